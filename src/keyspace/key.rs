//! Byte strings stored inline when short: keys as table entries store them (up to
//! [`INLINE_MAX`] bytes inside the entry itself), and set members in a large set's dense
//! array (up to 22 bytes inside the 24-byte slot). Longer ones live on the heap.
//!
//! Why: a lookup compares the bytes its hash points at. With them inline, the entry's (or
//! slot's) cache line holds them, so a lookup misses the cache once less, and the string
//! costs no allocation of its own. A key entry grows from 48 to 64 bytes, but a heap key
//! of 1-16 bytes cost a 16-byte allocation besides the 48, so keys of up to 16 bytes cost
//! the same, keys of 17-30 bytes cost 16 bytes less, and longer keys 16 bytes more. A set
//! member slot grows from 16 to 24 bytes and saves the member's allocation (16-32 bytes for
//! 1-22 byte members).

use std::fmt;
use std::ops::Deref;

use super::value::alloc_size;

/// Longest key stored inside the entry: what fits in 32 bytes with a length and a tag.
pub const INLINE_MAX: usize = 30;

/// A key's bytes (dereferences to `[u8]`): 32 bytes.
pub type Key = SmallBytes<INLINE_MAX>;

/// Bytes, inside the value when at most `N` long (`N` + 2 bytes: a tag and a length;
/// `N` must be below 256), else on the heap. Dereferences to `[u8]`.
#[derive(Clone)]
pub enum SmallBytes<const N: usize> {
    Inline { len: u8, bytes: [u8; N] },
    Heap(Box<[u8]>),
}

impl<const N: usize> SmallBytes<N> {
    pub fn new(k: &[u8]) -> Self {
        if k.len() <= N {
            let mut bytes = [0u8; N];
            bytes[..k.len()].copy_from_slice(k);
            SmallBytes::Inline {
                len: k.len() as u8,
                bytes,
            }
        } else {
            SmallBytes::Heap(k.into())
        }
    }

    /// Heap bytes this costs beyond its own size.
    pub fn heap_size(&self) -> usize {
        match self {
            SmallBytes::Inline { .. } => 0,
            SmallBytes::Heap(b) => alloc_size(b.len()),
        }
    }

    /// The bytes as a vector (a heap string's allocation is reused).
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            SmallBytes::Inline { len, bytes } => bytes[..len as usize].to_vec(),
            SmallBytes::Heap(b) => b.into_vec(),
        }
    }
}

impl<const N: usize> Deref for SmallBytes<N> {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            SmallBytes::Inline { len, bytes } => &bytes[..*len as usize],
            SmallBytes::Heap(b) => b,
        }
    }
}

impl<const N: usize> AsRef<[u8]> for SmallBytes<N> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl<const N: usize> From<&[u8]> for SmallBytes<N> {
    fn from(k: &[u8]) -> Self {
        SmallBytes::new(k)
    }
}

impl<const N: usize> From<Vec<u8>> for SmallBytes<N> {
    fn from(k: Vec<u8>) -> Self {
        if k.len() <= N {
            SmallBytes::new(&k)
        } else {
            SmallBytes::Heap(k.into_boxed_slice())
        }
    }
}

impl<const N: usize> From<Box<[u8]>> for SmallBytes<N> {
    /// Keeps a long string's allocation instead of copying it.
    fn from(k: Box<[u8]>) -> Self {
        if k.len() <= N {
            SmallBytes::new(&k)
        } else {
            SmallBytes::Heap(k)
        }
    }
}

// Hashes and compares as its bytes, so maps of keys can be probed with `&[u8]`.
impl<const N: usize> std::hash::Hash for SmallBytes<N> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (**self).hash(h)
    }
}

impl<const N: usize> std::borrow::Borrow<[u8]> for SmallBytes<N> {
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl<const N: usize> PartialEq for SmallBytes<N> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<const N: usize> Eq for SmallBytes<N> {}

impl<const N: usize> PartialEq<[u8]> for SmallBytes<N> {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl<const N: usize> fmt::Debug for SmallBytes<N> {
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
                assert_eq!(k.into_vec(), raw);
            }
        }
        assert_eq!(std::mem::size_of::<Key>(), 32);
        assert_eq!(std::mem::size_of::<SmallBytes<22>>(), 24);
    }
}
