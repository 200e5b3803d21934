//! Generics, lifetimes, where clauses, `impl Trait` in both positions, `unsafe`, `-> !`,
//! `extern "C"`, mutable and pattern parameters.
use std::fmt::Debug;

use tracekit::{traced, Tracer};

#[traced(tracer = tracer)]
fn generic<'a, T: Debug, U>(tracer: &Tracer, items: &'a [T], f: impl Fn(&T) -> U) -> Vec<U>
where
    U: Clone + 'a,
{
    items.iter().map(f).collect()
}

#[traced(tracer = tracer)]
fn returns_impl<'a>(tracer: &Tracer, s: &'a str) -> impl Iterator<Item = char> + 'a {
    s.chars()
}

#[traced(tracer = tracer)]
fn returns_result_impl(tracer: &Tracer) -> Result<impl Debug, std::fmt::Error> {
    Ok(1)
}

#[traced(tracer = tracer)]
unsafe fn raw(tracer: &Tracer, p: *const u8) -> u8 {
    *p
}

#[traced(tracer = tracer)]
#[allow(dead_code)]
fn never(tracer: &Tracer) -> ! {
    panic!()
}

#[traced(tracer = tracer)]
extern "C" fn c_abi(tracer: &Tracer, x: i32) -> i32 {
    x
}

#[traced(tracer = tracer)]
fn patterns(tracer: &Tracer, (a, b): (u8, u8), mut acc: Vec<u8>) -> Vec<u8> {
    acc.push(a + b);
    acc
}

#[traced(tracer = tracer)]
async fn generic_async<T: Send + Debug>(tracer: &Tracer, t: T) -> Result<T, std::io::Error> {
    Ok(t)
}

#[traced(tracer = tracer)]
fn early_return(tracer: &Tracer, x: i32) -> Result<i32, String> {
    if x < 0 {
        return Err("negative".into());
    }
    let y: i32 = "5".parse().map_err(|_| "bad")?;
    Ok(x + y)
}

fn main() {
    let t = Tracer::noop();
    generic(&t, &[1, 2], |x| x + 1);
    returns_impl(&t, "ab").count();
    let _ = returns_result_impl(&t);
    let b = 1u8;
    unsafe { raw(&t, &b) };
    c_abi(&t, 1);
    patterns(&t, (1, 2), vec![]);
    let _ = generic_async(&t, 5u8);
    let _ = early_return(&t, 1);
}
