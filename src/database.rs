//! The database at start: create it when missing, open the pool, run `migrations/`
//! (SPEC section 7). Embedded with `sqlx::migrate!`, so the build needs no database.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

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

/// Create the database of `url` if it does not exist (through the server's `postgres`
/// database), open a pool of `size` connections and run the migrations.
/// Every connection waits at most `lock_timeout_ms` for a row lock (0: forever).
pub async fn prepare(url: &str, size: u32, lock_timeout_ms: u64) -> Result<PgPool, DatabaseError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(DatabaseError::Url)?
        .log_statements(tracing::log::LevelFilter::Debug)
        // A request waiting on a row lock fails after this, as a transient fault (retried,
        // then requeued), instead of holding a connection and an in-flight slot forever.
        .options([("lock_timeout", format!("{lock_timeout_ms}ms"))]);
    create_if_missing(&options).await?;
    let pool = PgPoolOptions::new()
        .max_connections(size.max(1))
        .acquire_timeout(Duration::from_secs(5))
        // No ping before each use: it is one more round trip per request (issue 8). A
        // connection that died idle fails its first statement as a transient fault, which
        // the pipeline retries on another connection.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(DatabaseError::Connect)?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
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
