//! The database at start: create it when missing, open the pool, run `migrations/`
//! (SPEC section 7). Embedded with `sqlx::migrate!`, so the build needs no database.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool, Postgres};

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

/// How long a connection may go from hand to hand without passing back through sqlx's
/// pool, which then checks it (a round trip) and retires it past its `max_lifetime`.
const KEEP_AT_MOST: Duration = Duration::from_secs(300);

/// The worker's connections: sqlx's pool, and in front of it the connections the engine
/// hands from one request to the next.
///
/// sqlx's pool runs a round trip on every connection it takes back (a `Sync`, then the
/// wait for PostgreSQL's ReadyForQuery), in a task of its own: a GET, one statement, paid
/// two round trips and two wake-ups of its backend (issue 8). A [`Lease`] whose use ended
/// well ([`Lease::release`]: its statements completed, no transaction open) is kept here
/// and given as it is to the next [`Db::acquire`]. Any other lease (an error, a rolled
/// back transaction, a request cancelled mid-statement) goes back through sqlx's pool,
/// which flushes what is pending (a queued ROLLBACK: its row locks are released at once)
/// and closes the connection if it is broken.
///
/// Every user of the worker's connections goes through here: the kept connections are
/// checked out of sqlx's pool, which may then have none left to give. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    kept: Arc<Kept>,
}

struct Kept {
    idle: std::sync::Mutex<Vec<KeptConnection>>,
    /// One per connection of the pool: a holder is sure to find a kept connection or room
    /// in sqlx's pool (its queue alone would never see the kept ones come back).
    permits: Arc<tokio::sync::Semaphore>,
}

struct KeptConnection {
    conn: PoolConnection<Postgres>,
    /// When it last came out of sqlx's pool.
    since: Instant,
}

/// A connection for one use. Dropped without [`Lease::release`], it goes back through
/// sqlx's pool (see [`Db`]).
pub struct Lease {
    conn: Option<KeptConnection>,
    clean: bool,
    kept: Arc<Kept>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Db {
    pub fn new(pool: PgPool) -> Db {
        let size = pool.options().get_max_connections().max(1) as usize;
        Db {
            pool,
            kept: Arc::new(Kept {
                idle: std::sync::Mutex::new(Vec::with_capacity(size)),
                permits: Arc::new(tokio::sync::Semaphore::new(size)),
            }),
        }
    }

    /// sqlx's pool (its size and settings; for connections, [`Db::acquire`]).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A connection: the last one kept, else one from sqlx's pool. When every connection
    /// is in use, waits for one at most the pool's `acquire_timeout`, then fails with
    /// `PoolTimedOut` (a transient fault), as sqlx's own acquire does.
    pub async fn acquire(&self) -> Result<Lease, sqlx::Error> {
        let wait = self.pool.options().get_acquire_timeout();
        let permit = tokio::time::timeout(wait, self.kept.permits.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let kept = self.kept.take();
        let conn = match kept {
            Some(conn) => conn,
            None => KeptConnection {
                conn: self.pool.acquire().await?,
                since: Instant::now(),
            },
        };
        Ok(Lease {
            conn: Some(conn),
            clean: false,
            kept: self.kept.clone(),
            _permit: permit,
        })
    }

    /// Connections open and not in use: kept here or idle in sqlx's pool.
    pub fn num_idle(&self) -> usize {
        self.pool.num_idle() + self.kept.len()
    }

    /// Give every kept connection back to sqlx's pool and close it (waits for the
    /// connections in use).
    pub async fn close(&self) {
        self.kept.permits.close();
        let kept = std::mem::take(&mut *self.kept.lock());
        drop(kept);
        self.pool.close().await;
    }
}

impl Kept {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<KeptConnection>> {
        // A poisoned lock only means a thread panicked while pushing or popping: the
        // vector itself is whole.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self) -> Option<KeptConnection> {
        self.lock().pop()
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

impl Lease {
    /// Its use ended well: every statement completed and no transaction is open. The
    /// next request gets it as it is.
    pub fn release(mut self) {
        self.clean = true;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if self.clean && !self.kept.permits.is_closed() && conn.since.elapsed() < KEEP_AT_MOST {
            self.kept.lock().push(conn);
        }
        // Otherwise dropped here: sqlx's pool takes it back, checked (the permit goes
        // after this body, so a kept connection is there before the next holder looks).
    }
}

impl std::ops::Deref for Lease {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match &self.conn {
            Some(kept) => &kept.conn,
            None => unreachable!("a lease holds its connection until dropped"),
        }
    }
}

impl std::ops::DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match &mut self.conn {
            Some(kept) => &mut kept.conn,
            None => unreachable!("a lease holds its connection until dropped"),
        }
    }
}
