use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match twice::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors to
            // stderr with status 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match twice::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("twice: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
