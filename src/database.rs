//! The database at start: create it when missing, open the pool, run `migrations/`
//! (SPEC section 7). Embedded with `sqlx::migrate!`, so the build needs no database.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("invalid DATABASE_URL: {0}")]
    Url(#[source] sqlx::Error),
    #[error("cannot create the database {name:?}: {source}")]
    Create { name: String, source: sqlx::Error },
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// What a new connection runs before it serves (the worker's [`crate::engine::warm`]).
pub type WarmUp = Arc<
    dyn for<'c> Fn(&'c mut PgConnection) -> BoxFuture<'c, Result<(), sqlx::Error>> + Send + Sync,
>;

/// Create the database of `url` if it does not exist (through the server's `postgres`
/// database), open a pool of `size` connections and run the migrations.
/// Every connection waits at most `lock_timeout_ms` for a row lock (0: forever).
pub async fn prepare(url: &str, size: u32, lock_timeout_ms: u64) -> Result<PgPool, DatabaseError> {
    prepare_warm(url, size, lock_timeout_ms, None).await
}

/// [`prepare`], then, with a `warm_up`: every connection runs it when it opens, the pool
/// keeps `size` connections open (a connection that expires is replaced in the
/// background, warmed), and all `size` are opened and warmed before this returns, so that
/// the first requests find them ready (issue 8: a cold connection answers its first
/// request ~20 ms late).
pub async fn prepare_warm(
    url: &str,
    size: u32,
    lock_timeout_ms: u64,
    warm_up: Option<WarmUp>,
) -> Result<PgPool, DatabaseError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(DatabaseError::Url)?
        .log_statements(tracing::log::LevelFilter::Debug)
        // A request waiting on a row lock fails after this, as a transient fault (retried,
        // then requeued), instead of holding a connection and an in-flight slot forever.
        .options([("lock_timeout", format!("{lock_timeout_ms}ms"))]);
    create_if_missing(&options).await?;
    // Migrate through a connection of its own: a pool's new connections are warmed with
    // statements that need the schema.
    let mut conn = options.connect().await.map_err(DatabaseError::Connect)?;
    sqlx::migrate!("./migrations").run(&mut conn).await?;
    let _ = conn.close().await;
    let size = size.max(1);
    let mut pool_options = PgPoolOptions::new();
    if let Some(warm_up) = &warm_up {
        let warm_up = warm_up.clone();
        pool_options = pool_options
            .min_connections(size)
            .idle_timeout(None)
            .after_connect(move |conn, _| warm_up(conn));
    }
    let pool = pool_options
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(5))
        // No ping before each use: it is one more round trip per request (issue 8). A
        // connection that died idle fails its first statement as a transient fault, which
        // the pipeline retries on another connection.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(DatabaseError::Connect)?;
    if warm_up.is_some() {
        open_all(&pool, size).await?;
    }
    Ok(pool)
}

/// Hold `size` connections at once, so that each is opened (and warmed) now.
async fn open_all(pool: &PgPool, size: u32) -> Result<(), DatabaseError> {
    let held = (0..size).map(|_| pool.acquire());
    for conn in futures_util::future::join_all(held).await {
        conn.map_err(DatabaseError::Connect)?;
    }
    Ok(())
}

async fn create_if_missing(options: &PgConnectOptions) -> Result<(), DatabaseError> {
    let name = options.get_database().unwrap_or("postgres").to_string();
    let mut admin = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .map_err(DatabaseError::Connect)?;
    let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await
        .map_err(DatabaseError::Connect)?
        .is_some();
    if !exists {
        let sql = format!("CREATE DATABASE {}", crate::engine::sql::ident(&name));
        match sqlx::query(&sql).execute(&mut admin).await {
            Ok(_) => tracing::info!(database = %name, "created the database"),
            // Another worker created it meanwhile (duplicate_database): fine.
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P04") => {}
            Err(source) => return Err(DatabaseError::Create { name, source }),
        }
    }
    // Closing is a courtesy: the connection is dropped anyway.
    let _ = admin.close().await;
    Ok(())
}
