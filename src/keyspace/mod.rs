//! The dataset: numbered databases of keys with values and absolute expiry times.
//!
//! Pure data structures, no I/O and no policy: lazy expiry, logging and watch
//! invalidation are the command layer's job (it knows whether it is replaying the log).

mod hash;
mod list;
mod set;
mod table;
mod value;
mod zset;

pub use hash::Hash;
pub use list::List;
pub use set::Set;
pub use table::{Entry, Table};
pub use value::{alloc_size, Kind, Value};
pub use zset::ZSet;

/// All databases. `SELECT n` picks one.
#[derive(Debug)]
pub struct Keyspace {
    dbs: Vec<Table>,
}

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        Keyspace {
            dbs: (0..databases.max(1)).map(|_| Table::new()).collect(),
        }
    }

    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    pub fn db(&self, i: usize) -> &Table {
        &self.dbs[i]
    }

    pub fn db_mut(&mut self, i: usize) -> &mut Table {
        &mut self.dbs[i]
    }

    pub fn dbs(&self) -> &[Table] {
        &self.dbs
    }

    pub fn swap(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
    }

    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(|d| d.len()).sum()
    }

    pub fn mem_size(&self) -> usize {
        self.dbs.iter().map(|d| d.mem_size()).sum()
    }
}
