use tracekit::traced;

#[traced]
trait Tool {
    fn run(&self);
}

fn main() {}
