//! `fulmen demo`: shows, in one process, what the node can do so far.

/// Arguments of `fulmen demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Which scenario to run.
    #[arg(long, default_value = "wire")]
    pub scenario: String,
    /// Print one JSON document instead of the step-by-step text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the selected scenario.
pub fn run(_args: DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    println!("fulmen {}", env!("CARGO_PKG_VERSION"));
    Ok(())
}
