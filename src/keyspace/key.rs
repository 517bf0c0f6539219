//! Keys as table entries store them: up to [`INLINE_MAX`] bytes inside the entry itself,
//! longer ones on the heap.
//!
//! Why: a lookup compares the key of the entry its hash points at. With the key inline,
//! the entry's one cache line holds it, so a lookup misses the cache once less, and a key
//! costs no allocation of its own. The entry grows from 48 to 64 bytes, but a heap key
//! of 1-16 bytes cost a 16-byte allocation besides the 48, so keys of up to 16 bytes cost
//! the same, keys of 17-30 bytes cost 16 bytes less, and longer keys 16 bytes more.

use std::fmt;
use std::ops::Deref;

use super::value::alloc_size;

/// Longest key stored inside the entry: what fits in 32 bytes with a length and a tag.
pub const INLINE_MAX: usize = 30;

/// A key's bytes (dereferences to `[u8]`).
#[derive(Clone)]
pub enum Key {
    Inline { len: u8, bytes: [u8; INLINE_MAX] },
    Heap(Box<[u8]>),
}

impl Key {
    pub fn new(k: &[u8]) -> Key {
        if k.len() <= INLINE_MAX {
            let mut bytes = [0u8; INLINE_MAX];
            bytes[..k.len()].copy_from_slice(k);
            Key::Inline {
                len: k.len() as u8,
                bytes,
            }
        } else {
            Key::Heap(k.into())
        }
    }

    /// Heap bytes this key costs beyond its entry.
    pub fn heap_size(&self) -> usize {
        match self {
            Key::Inline { .. } => 0,
            Key::Heap(b) => alloc_size(b.len()),
        }
    }
}

impl Deref for Key {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..*len as usize],
            Key::Heap(b) => b,
        }
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<&[u8]> for Key {
    fn from(k: &[u8]) -> Key {
        Key::new(k)
    }
}

impl From<Vec<u8>> for Key {
    fn from(k: Vec<u8>) -> Key {
        if k.len() <= INLINE_MAX {
            Key::new(&k)
        } else {
            Key::Heap(k.into_boxed_slice())
        }
    }
}

impl From<Box<[u8]>> for Key {
    fn from(k: Box<[u8]>) -> Key {
        if k.len() <= INLINE_MAX {
            Key::new(&k)
        } else {
            Key::Heap(k)
        }
    }
}

// Hashes and compares as its bytes, so maps of keys can be probed with `&[u8]`.
impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (**self).hash(h)
    }
}

impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        **self == **other
    }
}

impl Eq for Key {}

impl PartialEq<[u8]> for Key {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_up_to_the_limit_then_heap() {
        for n in [0, 1, 16, INLINE_MAX, INLINE_MAX + 1, 100] {
            let raw: Vec<u8> = (0..n as u8).collect();
            for k in [
                Key::new(&raw),
                Key::from(raw.clone()),
                Key::from(raw.clone().into_boxed_slice()),
            ] {
                assert_eq!(&*k, &raw[..]);
                assert_eq!(matches!(k, Key::Inline { .. }), n <= INLINE_MAX, "{n}");
                assert_eq!(k.heap_size() == 0, n <= INLINE_MAX);
                assert_eq!(k.clone(), k);
            }
        }
        assert_eq!(std::mem::size_of::<Key>(), 32);
    }
}
