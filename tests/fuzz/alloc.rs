//! A global allocator that counts, per thread, the bytes allocated and not yet
//! freed, and their peak since [`reset_peak`]: how much a parser held at once.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static NOW: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn add(n: isize) {
    // try_with: a thread's last frees come after its locals are gone
    let _ = NOW.try_with(|now| {
        let v = now.get() + n;
        now.set(v);
        let _ = PEAK.try_with(|p| {
            if v > p.get() {
                p.set(v);
            }
        });
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Starts measuring this thread's peak from what it holds now.
pub fn reset_peak() {
    let now = NOW.with(|n| n.get());
    PEAK.with(|p| p.set(now));
    BASE.with(|b| b.set(now));
}

thread_local! {
    static BASE: Cell<isize> = const { Cell::new(0) };
}

/// The most this thread held at once since [`reset_peak`], above what it held then.
pub fn peak() -> usize {
    let base = BASE.with(|b| b.get());
    PEAK.with(|p| (p.get() - base).max(0) as usize)
}
