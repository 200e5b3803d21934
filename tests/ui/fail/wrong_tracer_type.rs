use tracekit::traced;

struct Ctx {
    tracer: u32,
}

#[traced(tracer = ctx.tracer)]
fn step(ctx: &Ctx) {}

fn main() {
    step(&Ctx { tracer: 1 });
}
