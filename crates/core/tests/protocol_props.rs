//! The socket protocol's frame decoder on arbitrary bytes: a frame or an error, never a
//! panic, and never an allocation over the frame's limit, since every byte it reads may come
//! from a confused or hostile peer.

use agent_sessions::protocol::{
    parse_header, read_frame, write_frame, Tag, MAX_CONTROL_FRAME, MAX_INPUT_FRAME,
};
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io;

/// Counts, on the thread that asks for it, the largest single allocation (or reallocation)
/// the decoder makes: the limits are about memory, so that is what the test measures.
struct Watching;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // try_with: allocations also happen while a thread's locals are torn down.
    let _ = ON.try_with(|on| {
        if on.get() {
            let _ = LARGEST.try_with(|m| m.set(m.get().max(size)));
        }
    });
}

unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Watching = Watching;

type Decoded = io::Result<Option<(Tag, Vec<u8>)>>;

/// Decodes one frame from `bytes`; returns the result and the largest allocation made.
fn decode(bytes: &[u8]) -> (Decoded, usize) {
    LARGEST.with(|m| m.set(0));
    ON.with(|on| on.set(true));
    let result = read_frame(&mut &bytes[..]);
    ON.with(|on| on.set(false));
    (result, LARGEST.with(|m| m.get()))
}

/// Room for an error's message: nothing the size of a payload.
const SMALL: usize = 1024;

const TAGS: [u8; 14] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0x80, 0x81, 0x82, 0x83];

/// What the decoder must do with `bytes`, checked against what it did.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (result, largest) = decode(bytes);
    if bytes.is_empty() {
        prop_assert!(matches!(result, Ok(None)), "{result:?}");
        return Ok(());
    }
    if bytes.len() < 5 {
        prop_assert!(result.is_err(), "{result:?}");
        prop_assert!(largest <= SMALL, "allocated {largest}");
        return Ok(());
    }
    let head: [u8; 5] = bytes[..5].try_into().unwrap();
    match parse_header(head) {
        Err(e) => {
            prop_assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            prop_assert!(result.is_err(), "{result:?}");
            prop_assert!(largest <= SMALL, "refused header, yet allocated {largest}");
        }
        Ok((tag, len)) => {
            prop_assert_eq!(tag as u8, bytes[0]);
            prop_assert!(len <= tag.max_payload());
            prop_assert!(
                largest <= len.max(SMALL),
                "{len}-byte frame allocated {largest}"
            );
            let body = &bytes[5..];
            if body.len() >= len {
                let (got_tag, payload) = result.unwrap().unwrap();
                prop_assert_eq!(got_tag, tag);
                prop_assert_eq!(&payload[..], &body[..len]);
            } else {
                let e = result.unwrap_err();
                prop_assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
                // A frame cut short never costs its announced size: the payload grows as
                // bytes arrive, from a first chunk of at most 64 KiB.
                prop_assert!(largest <= len.clamp(SMALL, 64 << 10), "allocated {largest}");
            }
        }
    }
    Ok(())
}

/// A header of a chosen or arbitrary tag and a length near the interesting sizes, then a
/// short body.
fn header_and_body() -> impl Strategy<Value = Vec<u8>> {
    let tag = prop_oneof![prop::sample::select(TAGS.to_vec()), any::<u8>()];
    let len = prop_oneof![
        0u32..64,
        Just(MAX_CONTROL_FRAME as u32),
        Just(MAX_CONTROL_FRAME as u32 + 1),
        Just(MAX_INPUT_FRAME as u32),
        Just(MAX_INPUT_FRAME as u32 + 1),
        any::<u32>(),
    ];
    (tag, len, prop::collection::vec(any::<u8>(), 0..512)).prop_map(|(tag, len, body)| {
        let mut bytes = vec![tag];
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&body);
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_give_a_frame_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        check(&bytes)?;
    }

    #[test]
    fn arbitrary_headers_never_allocate_past_the_limit(bytes in header_and_body()) {
        check(&bytes)?;
    }

    #[test]
    fn written_frames_read_back_in_order(
        first in prop::sample::select(TAGS.to_vec()),
        second in prop::sample::select(TAGS.to_vec()),
        a in prop::collection::vec(any::<u8>(), 0..2048),
        b in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let tag = |b: u8| parse_header([b, 0, 0, 0, 0]).unwrap().0;
        let mut wire = Vec::new();
        write_frame(&mut wire, tag(first), &a).unwrap();
        write_frame(&mut wire, tag(second), &b).unwrap();
        let mut r = &wire[..];
        let (t, p) = read_frame(&mut r).unwrap().unwrap();
        prop_assert_eq!((t, p), (tag(first), a));
        let (t, p) = read_frame(&mut r).unwrap().unwrap();
        prop_assert_eq!((t, p), (tag(second), b));
        prop_assert!(read_frame(&mut r).unwrap().is_none());
    }
}

#[test]
fn each_tag_is_refused_one_byte_over_its_limit() {
    for b in TAGS {
        let tag = parse_header([b, 0, 0, 0, 0]).unwrap().0;
        let limit = tag.max_payload();
        let over = [&[b][..], &((limit + 1) as u32).to_le_bytes()].concat();
        let (result, largest) = decode(&over);
        let e = result.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{tag:?}: {e}");
        assert!(e.to_string().contains("over its limit"), "{e}");
        assert!(largest <= SMALL, "{tag:?} allocated {largest}");
        // At the limit it is accepted, and a body cut short is an error, not a wait.
        let at = [&[b][..], &(limit as u32).to_le_bytes(), b"abc"].concat();
        let (result, largest) = decode(&at);
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert!(largest <= 64 << 10, "{tag:?} allocated {largest}");
    }
    assert_eq!(MAX_INPUT_FRAME, 1 << 20);
    assert_eq!(
        parse_header([2, 0, 0, 0x10, 0]).unwrap(),
        (Tag::Input, 1 << 20)
    );
    assert_eq!(
        parse_header([5, 1, 0, 1, 0]).unwrap_err().kind(),
        io::ErrorKind::InvalidData,
        "a 64 KiB + 1 stop request"
    );
}
