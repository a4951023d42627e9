//! database::Db (issue 8): a connection whose use ended well goes to the next use as it
//! is, without sqlx's round trip on release; any other goes back through sqlx's pool,
//! which must end a transaction left open at once, so that its locks go with it.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use webhook_worker::config::Settings;
use webhook_worker::database::{self, Db};

use crate::helpers::{cleanup, test_settings, topology_of, WAIT};

/// A database of its own, its pool of one connection, and a `Db` over it.
async fn one_connection() -> (Settings, PgPool, Db) {
    let settings = test_settings(&[]);
    let pool = database::prepare(&settings.connections.database_url, 1, 0)
        .await
        .expect("the database");
    let db = Db::new(pool.clone());
    (settings, pool, db)
}

#[tokio::test]
async fn a_released_connection_serves_the_next_use_and_close_gives_it_back() {
    let (settings, pool, db) = one_connection().await;

    let mut first = db.acquire().await.expect("a connection");
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *first)
        .await
        .expect("its backend");
    first.release();
    assert_eq!(db.num_idle(), 1, "kept");
    assert_eq!(pool.num_idle(), 0, "kept out of sqlx's pool");

    let mut second = tokio::time::timeout(WAIT, db.acquire())
        .await
        .expect("the kept connection comes at once")
        .expect("a connection");
    let again: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *second)
        .await
        .expect("its backend");
    assert_eq!(again, pid, "the same connection");
    second.release();

    tokio::time::timeout(WAIT, db.close())
        .await
        .expect("close returns: the kept connection went back to the pool");
    assert!(pool.is_closed());
    assert!(db.acquire().await.is_err(), "a closed Db gives nothing");
    cleanup(&settings, &topology_of(&settings)).await;
}

#[tokio::test]
async fn a_lease_dropped_in_a_transaction_is_rolled_back_at_once_and_not_handed_on() {
    let (settings, pool, db) = one_connection().await;
    let url = &settings.connections.database_url;

    let mut lease = db.acquire().await.expect("a connection");
    let mut tx = lease.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO webhook_inbox (message_id, entity, outcome) VALUES ('dropped', 'customer', '{}')",
    )
    .execute(&mut *tx)
    .await
    .expect("an insert in the transaction");
    drop(tx); // a ROLLBACK is queued, not sent
    drop(lease); // not released: back through sqlx's pool, which sends it
    assert_eq!(db.num_idle() - pool.num_idle(), 0, "not kept");

    // The insert's lock on the table goes with the rollback: another session gets the
    // table to itself without waiting for the connection's next use.
    let mut other = PgConnection::connect(url).await.expect("another session");
    sqlx::query("SET lock_timeout = '5s'")
        .execute(&mut other)
        .await
        .expect("lock_timeout");
    let mut exclusive = other.begin().await.expect("begin");
    sqlx::query("LOCK TABLE webhook_inbox IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *exclusive)
        .await
        .expect("the dropped transaction holds no lock");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_inbox")
        .fetch_one(&mut *exclusive)
        .await
        .expect("count");
    assert_eq!(rows, 0, "rolled back");
    exclusive.rollback().await.expect("rollback");
    let _ = other.close().await;

    // The connection itself is whole and serves again, outside any transaction.
    let mut next = db.acquire().await.expect("a connection");
    // SAVEPOINT fails outside a transaction block (25P01).
    let savepoint = sqlx::query("SAVEPOINT probe").execute(&mut *next).await;
    match savepoint {
        Err(sqlx::Error::Database(e)) => assert_eq!(e.code().as_deref(), Some("25P01"), "{e}"),
        other => panic!("the connection is in a transaction: {other:?}"),
    }
    next.release();
    db.close().await;
    cleanup(&settings, &topology_of(&settings)).await;
}

#[tokio::test]
async fn a_request_waiting_for_a_connection_gives_up_after_the_pools_acquire_timeout() {
    let (settings, pool, _) = one_connection().await;
    let short = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(200))
        .connect(&settings.connections.database_url)
        .await
        .expect("a pool with a short acquire timeout");
    let db = Db::new(short.clone());

    let held = db.acquire().await.expect("the one connection");
    let waited = tokio::time::timeout(WAIT, db.acquire())
        .await
        .expect("the wait is bounded");
    assert!(
        matches!(waited, Err(sqlx::Error::PoolTimedOut)),
        "a transient fault, as sqlx's own acquire gives: {:?}",
        waited.err()
    );
    held.release();
    let again = tokio::time::timeout(WAIT, db.acquire())
        .await
        .expect("the released connection comes at once")
        .expect("a connection");
    again.release();
    db.close().await;
    pool.close().await;
    cleanup(&settings, &topology_of(&settings)).await;
}
