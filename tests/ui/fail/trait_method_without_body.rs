use tracekit::traced;

trait Tool {
    #[traced]
    fn run(&self);
}

fn main() {}
