//! The values a key can hold and their memory accounting.

use super::{Hash, List, Set, Stream, Warm, ZSet};

/// A stored value. Strings holding a canonical decimal integer are kept as `Int`
/// (Redis's "int" encoding): smaller, and INCR needs no parsing. Aggregates are boxed so
/// the enum (and so every table slot) stays small.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(Vec<u8>),
    Int(i64),
    List(Box<List>),
    /// Inline, not boxed: a small hash is then one allocation (its listpack), which is
    /// what decides memory for millions of small hashes.
    Hash(Hash),
    Set(Box<Set>),
    ZSet(Box<ZSet>),
    Stream(Box<Stream>),
}

/// The Redis type name of a value, as TYPE reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    List,
    Hash,
    Set,
    ZSet,
    Stream,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::List => "list",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::Stream => "stream",
        }
    }

    /// Parse a TYPE name as given to `SCAN ... TYPE t`.
    pub fn parse(name: &[u8]) -> Option<Kind> {
        match name.to_ascii_lowercase().as_slice() {
            b"string" => Some(Kind::String),
            b"list" => Some(Kind::List),
            b"hash" => Some(Kind::Hash),
            b"set" => Some(Kind::Set),
            b"zset" => Some(Kind::ZSet),
            b"stream" => Some(Kind::Stream),
            _ => None,
        }
    }
}

/// The aggregate types (lists, hashes, sets, sorted sets), each held under its own
/// [`Value`] variant, so code about "the T at this key" is written once.
pub trait Aggregate: Sized {
    const KIND: Kind;
    fn of(v: &Value) -> Option<&Self>;
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
    fn into_value(self) -> Value;
    /// Holds no element (an empty aggregate is never stored: its key is deleted).
    fn empty(&self) -> bool;
}

macro_rules! aggregate {
    ($t:ty, $variant:ident, $kind:ident, $wrap:expr) => {
        impl Aggregate for $t {
            const KIND: Kind = Kind::$kind;
            fn of(v: &Value) -> Option<&Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn of_mut(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn into_value(self) -> Value {
                Value::$variant($wrap(self))
            }
            fn empty(&self) -> bool {
                self.is_empty()
            }
        }
    };
}

aggregate!(List, List, List, Box::new);
aggregate!(Hash, Hash, Hash, std::convert::identity);
aggregate!(Set, Set, Set, Box::new);
aggregate!(ZSet, ZSet, ZSet, Box::new);

/// A stream stays in the keyspace when its last entry goes (its last ID and groups are
/// state), so it is never `empty` in the deleting sense.
impl Aggregate for Stream {
    const KIND: Kind = Kind::Stream;
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Stream(x) => Some(x),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Stream(x) => Some(x),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::Stream(Box::new(self))
    }
    fn empty(&self) -> bool {
        false
    }
}

impl Value {
    /// Warm-up for a batch of lookups of member `m` inside this value (see
    /// [`Set::prefetch_member`], [`Hash::prefetch_field`]); false where there is nothing
    /// to warm.
    #[inline]
    pub fn prefetch_member(&self, m: &[u8], step: Warm) -> bool {
        match self {
            Value::Set(s) => s.prefetch_member(m, step),
            Value::Hash(h) => h.prefetch_field(m, step),
            _ => false,
        }
    }

    /// A string value from client bytes, using the int encoding when it round-trips.
    pub fn from_bytes(b: &[u8]) -> Value {
        if b.len() <= 20 {
            if let Some(i) = crate::util::parse_i64_strict(b) {
                return Value::Int(i);
            }
        }
        Value::Str(b.to_vec())
    }

    pub fn kind(&self) -> Kind {
        match self {
            Value::Str(_) | Value::Int(_) => Kind::String,
            Value::List(_) => Kind::List,
            Value::Hash(_) => Kind::Hash,
            Value::Set(_) => Kind::Set,
            Value::ZSet(_) => Kind::ZSet,
            Value::Stream(_) => Kind::Stream,
        }
    }

    /// Heap bytes owned by the value beyond its inline size (an allocator-level estimate).
    /// O(1): aggregates keep their size up to date as they change.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(v) => alloc_size(v.capacity()),
            Value::Int(_) => 0,
            Value::List(l) => alloc_size(std::mem::size_of::<List>()) + l.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => alloc_size(std::mem::size_of::<Set>()) + s.heap_size(),
            Value::ZSet(z) => alloc_size(std::mem::size_of::<ZSet>()) + z.heap_size(),
            Value::Stream(x) => alloc_size(std::mem::size_of::<Stream>()) + x.heap_size(),
        }
    }

    /// Roughly how many allocations dropping the value frees (Redis's
    /// lazyfreeGetFreeEffort): 1 for strings and compact encodings, the element count
    /// otherwise. Compared with [`super::lazyfree::THRESHOLD`].
    pub fn free_effort(&self) -> usize {
        match self {
            Value::List(l) if l.encoding() != "listpack" => l.len(),
            Value::Hash(h) if h.encoding() != "listpack" => h.len(),
            Value::Set(s) if !matches!(s.encoding(), "listpack" | "intset") => s.len(),
            Value::ZSet(z) if z.encoding() != "listpack" => z.len(),
            Value::Stream(x) => x.len() / 100 + 1,
            _ => 1,
        }
    }

    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str(v) if v.len() <= 44 => "embstr",
            Value::Str(_) => "raw",
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// The bytes of a string value (ints rendered in decimal); None for other types.
    pub fn as_string(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        match self {
            Value::Str(s) => Some(std::borrow::Cow::Borrowed(s)),
            Value::Int(i) => Some(std::borrow::Cow::Owned(
                itoa::Buffer::new().format(*i).as_bytes().to_vec(),
            )),
            _ => None,
        }
    }
}

/// The size class an allocation of `n` bytes really occupies (jemalloc's: 8, then 16-byte
/// steps up to 128, then four classes per power of two). Used for INFO used_memory estimates.
pub fn alloc_size(n: usize) -> usize {
    if n == 0 {
        0
    } else if n <= 8 {
        8
    } else if n <= 128 {
        (n + 15) & !15
    } else {
        let shift = usize::BITS - 1 - n.leading_zeros(); // floor(log2 n)
        let step = 1usize << (shift - 2);
        (n + step - 1) & !(step - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_is_compact() {
        assert!(std::mem::size_of::<Value>() <= 24);
    }

    #[test]
    fn int_encoding_only_when_canonical() {
        assert_eq!(Value::from_bytes(b"123"), Value::Int(123));
        assert_eq!(Value::from_bytes(b"0123"), Value::Str(b"0123".to_vec()));
        assert_eq!(Value::from_bytes(b"-0"), Value::Str(b"-0".to_vec()));
    }

    #[test]
    fn size_classes() {
        assert_eq!(alloc_size(1), 8);
        assert_eq!(alloc_size(64), 64);
        assert_eq!(alloc_size(65), 80);
        assert_eq!(alloc_size(100), 112);
        assert_eq!(alloc_size(1000), 1024);
    }
}
