//! One integration-test binary (STYLE section 7): real RabbitMQ and PostgreSQL, a database
//! and a topology prefix per test, so tests run in parallel and repeatedly.

mod customer;
mod delivery;
mod dlq;
mod errors;
mod faults;
mod helpers;
mod prospect;
mod scale;
