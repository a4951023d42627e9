//! One integration-test binary (STYLE section 7): real RabbitMQ and PostgreSQL, a database
//! and a topology prefix per test, so tests run in parallel and repeatedly.

mod assertions;
mod connections;
mod contract;
mod customer;
mod delivery;
mod dlq;
mod errors;
mod event;
mod faults;
mod helpers;
mod known;
mod opportunity;
mod prospect;
mod scale;
