//! Fuzz target `ring`: the driver's ring validation against a device that writes anything.
//! The input (see `nsflow_fuzz::ring_input`) gives the ring geometry, the consumer index
//! the drain resumes at, the producer index published in the write-back slot and the
//! bytes of the record slots; they are written into a real DMA block (a memfd mapping, as
//! the driver uses) and [`RingConsumer::poll`] drains it. It must return `Ok` or a typed
//! error, never panic or read outside the block, and:
//! * a geometry larger than the block is a DMA bounds error;
//! * a producer index more than a ring ahead is `IndexOutOfRange`, nothing taken;
//! * `Ok(n)` takes `min(published, max)` records, in index order, each of a programmed
//!   profile and with its pass's phase, and advances the consumer index by `n`;
//! * any other error leaves the consumer index at the bad record, having taken exactly
//!   the records before it;
//! * a poll after draining everything published finds the ring empty (nothing twice).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsflow_driver::dma::DmaMemory;
use nsflow_driver::ring::{RingConsumer, RingError};
use nsflow_fuzz::ring_input::RingInput;
use nsflow_rtl::record::{phase_for, RECORD_BYTES};
use std::cell::RefCell;

/// The block holds rings up to 2^BLOCK_LOG2 entries; larger geometries must fail cleanly.
const BLOCK_LOG2: u8 = 6;

thread_local! {
    /// One DMA block for every run: a memfd mapping per input would measure mmap, not
    /// the ring.
    static BLOCK: RefCell<Option<DmaMemory>> = const { RefCell::new(None) };
}

fn block() -> DmaMemory {
    let taken = BLOCK.with(|b| b.borrow_mut().take());
    match taken {
        Some(mem) => mem,
        None => match DmaMemory::new(RingConsumer::bytes(BLOCK_LOG2)) {
            Ok(mem) => mem,
            Err(e) => panic!("fuzz harness: no DMA memory: {e}"),
        },
    }
}

fn run(input: &RingInput<'_>, mem: DmaMemory) -> DmaMemory {
    let size = mem.len();
    let ring_len = RECORD_BYTES << input.log2;
    let fits = ring_len + 4 <= size;
    let setup = mem.zero().and_then(|()| {
        let n = input.ring.len().min(ring_len).min(size);
        mem.write(0, &input.ring[..n])?;
        if fits {
            mem.write(ring_len, &input.prod.to_le_bytes())?;
        }
        Ok(())
    });
    if let Err(e) = setup {
        panic!("fuzz harness: writing the block failed: {e}");
    }

    let mut c = RingConsumer::resume(mem, input.log2, input.profiles, input.cons);
    let entries = 1u32 << input.log2;
    let avail = input.prod.wrapping_sub(input.cons);
    let mut out = Vec::new();
    let result = c.poll(&mut out, input.max);
    let taken = c.consumer_index().wrapping_sub(input.cons);
    assert_eq!(
        taken as usize,
        out.len(),
        "consumer index moved by the records taken"
    );
    for (k, rec) in out.iter().enumerate() {
        let index = input.cons.wrapping_add(k as u32);
        assert!(
            usize::from(rec.profile) < input.profiles,
            "record {index}: unprogrammed profile"
        );
        assert_eq!(
            rec.phase,
            phase_for(index, input.log2),
            "record {index}: wrong phase"
        );
    }
    match result {
        _ if !fits => assert!(matches!(result, Err(RingError::Dma(_))), "{result:?}"),
        _ if avail > entries => {
            assert!(
                matches!(result, Err(RingError::IndexOutOfRange { .. })),
                "{result:?}"
            );
            assert!(out.is_empty());
        }
        Ok(n) => {
            assert_eq!(n, out.len());
            assert_eq!(
                n,
                (avail as usize).min(input.max),
                "took what was published, up to max"
            );
            if n == avail as usize {
                let again = c.poll(&mut out, usize::MAX);
                assert!(matches!(again, Ok(0)), "drained ring not empty: {again:?}");
            }
        }
        Err(RingError::Phase { .. } | RingError::Record { .. } | RingError::Profile { .. }) => {
            assert!(
                out.len() < (avail as usize).min(input.max),
                "stopped at a published record"
            );
        }
        Err(e) => panic!("unexpected error for a ring inside its block: {e}"),
    }
    c.into_memory()
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = RingInput::parse(data) else {
        return;
    };
    let mem = run(&input, block());
    BLOCK.with(|b| *b.borrow_mut() = Some(mem));
});
