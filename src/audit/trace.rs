//! `--trace`: which process of the build wrote each output. The build runs
//! under `strace -f -ff` (one file per process, syscalls with timestamps);
//! the files are replayed in time order to follow working directories and
//! parents, and every file opened for writing or renamed into place is
//! credited to the outermost process whose command line names it (the
//! `gcc` that ran `as`, the `sh -c '… > out'` that redirected it).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::finding::Text;
use crate::report::{Action, ActionNote};

/// The syscalls the trace needs.
const SYSCALLS: &str =
    "execve,chdir,fchdir,open,openat,creat,rename,renameat,renameat2,clone,clone3,fork,vfork";

/// The command line that runs `argv` under strace, writing its per-process
/// files as `prefix.PID`.
pub(super) fn wrap(strace: &Path, prefix: &Path, argv: Vec<OsString>) -> Vec<OsString> {
    let mut out: Vec<OsString> = vec![
        strace.into(),
        "-f".into(),
        "-ff".into(),
        "-qq".into(),
        "-ttt".into(),
        "-s".into(),
        "4096".into(),
        "-e".into(),
        format!("trace={SYSCALLS}").into(),
        "-e".into(),
        "status=successful".into(),
        "-e".into(),
        "signal=none".into(),
        "-o".into(),
        prefix.into(),
        "--".into(),
    ];
    out.extend(argv);
    out
}

/// One parsed trace line.
#[derive(Clone, Debug, PartialEq)]
struct Event {
    time: f64,
    pid: u32,
    call: String,
    args: Vec<Arg>,
    ret: i64,
}

#[derive(Clone, Debug, PartialEq)]
enum Arg {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Other(String),
}

impl Arg {
    fn str(&self) -> Option<&[u8]> {
        match self {
            Arg::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Parse `1796226801.013412 execve("/usr/bin/gcc", ["gcc", "-g"], 0x… /* 39 vars */) = 0`.
fn parse_line(pid: u32, line: &str) -> Option<Event> {
    let (time, rest) = line.split_once(' ')?;
    let time: f64 = time.parse().ok()?;
    let rest = rest.trim_start();
    let open = rest.find('(')?;
    let call = rest.get(..open)?.to_owned();
    if !call.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return None;
    }
    let b = rest.as_bytes();
    let mut i = open + 1;
    let mut args = Vec::new();
    loop {
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        match b.get(i)? {
            b')' => {
                i += 1;
                break;
            }
            b'"' => {
                let (s, next) = c_string(b, i)?;
                args.push(Arg::Str(s));
                i = next;
            }
            b'[' => {
                i += 1;
                let mut items = Vec::new();
                loop {
                    while matches!(b.get(i), Some(b' ' | b',')) {
                        i += 1;
                    }
                    match b.get(i)? {
                        b']' => {
                            i += 1;
                            break;
                        }
                        b'"' => {
                            let (s, next) = c_string(b, i)?;
                            items.push(s);
                            i = next;
                        }
                        _ => i += 1,
                    }
                }
                args.push(Arg::List(items));
            }
            _ => {
                let start = i;
                let mut depth = 0i32;
                while let Some(&c) = b.get(i) {
                    match c {
                        b'(' | b'{' | b'[' => depth += 1,
                        b')' | b'}' | b']' if depth > 0 => depth -= 1,
                        b',' | b')' if depth == 0 => break,
                        _ => {}
                    }
                    i += 1;
                }
                args.push(Arg::Other(rest.get(start..i)?.trim().to_owned()));
            }
        }
        // Skip `...` after a truncated string, then the separator.
        while matches!(b.get(i), Some(b'.')) {
            i += 1;
        }
        match b.get(i)? {
            b',' => i += 1,
            b')' => {
                i += 1;
                break;
            }
            _ => {}
        }
    }
    let ret = rest.get(i..)?.trim().strip_prefix('=')?.trim();
    let ret: i64 = ret.split_whitespace().next()?.parse().ok()?;
    Some(Event {
        time,
        pid,
        call,
        args,
        ret,
    })
}

/// A C string literal as strace prints it, from the opening quote at
/// `at`: its bytes and the index after the closing quote.
fn c_string(b: &[u8], at: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut i = at + 1;
    loop {
        match *b.get(i)? {
            b'"' => return Some((out, i + 1)),
            b'\\' => {
                let c = *b.get(i + 1)?;
                i += 2;
                match c {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'v' => out.push(0x0b),
                    b'f' => out.push(0x0c),
                    b'x' => {
                        let hex = std::str::from_utf8(b.get(i..i + 2)?).ok()?;
                        out.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 2;
                    }
                    b'0'..=b'7' => {
                        let mut v = u32::from(c - b'0');
                        let mut n = 1;
                        while n < 3 && matches!(b.get(i), Some(b'0'..=b'7')) {
                            v = v * 8 + u32::from(b[i] - b'0');
                            i += 1;
                            n += 1;
                        }
                        out.push(u8::try_from(v).ok()?);
                    }
                    other => out.push(other),
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// What the replay knows about one process.
#[derive(Clone, Debug, Default)]
struct Proc {
    parent: Option<u32>,
    argv: Vec<Vec<u8>>,
    cwd: PathBuf,
}

/// Read a trace directory: every output path (relative to `build_dir`, the
/// tree as the build saw it) with the actions that wrote it, in order.
pub(super) fn read(dir: &Path, build_dir: &Path) -> io::Result<BTreeMap<Vec<u8>, Vec<Action>>> {
    let mut events: Vec<Event> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.rsplit_once('.'))
            .and_then(|(_, p)| p.parse::<u32>().ok())
        else {
            continue;
        };
        let text = fs::read(entry.path())?;
        let text = String::from_utf8_lossy(&text);
        events.extend(text.lines().filter_map(|l| parse_line(pid, l)));
    }
    events.sort_by(|x, y| x.time.total_cmp(&y.time).then(x.pid.cmp(&y.pid)));
    Ok(replay(&events, build_dir))
}

fn replay(events: &[Event], build_dir: &Path) -> BTreeMap<Vec<u8>, Vec<Action>> {
    let mut procs: BTreeMap<u32, Proc> = BTreeMap::new();
    let mut writes: Vec<(u32, PathBuf)> = Vec::new();
    for e in events {
        let cwd = procs
            .get(&e.pid)
            .map_or_else(|| build_dir.to_path_buf(), |p| p.cwd.clone());
        match e.call.as_str() {
            "execve" => {
                if let Some(Arg::List(argv)) = e.args.get(1) {
                    let p = procs.entry(e.pid).or_insert_with(|| Proc {
                        cwd: cwd.clone(),
                        ..Proc::default()
                    });
                    p.argv = argv.clone();
                }
            }
            "clone" | "clone3" | "fork" | "vfork" if e.ret > 0 => {
                let parent = procs.get(&e.pid).cloned().unwrap_or_else(|| Proc {
                    cwd: cwd.clone(),
                    ..Proc::default()
                });
                let child = u32::try_from(e.ret).unwrap_or(0);
                procs.insert(
                    child,
                    Proc {
                        parent: Some(e.pid),
                        argv: parent.argv,
                        cwd: parent.cwd,
                    },
                );
            }
            "chdir" => {
                if let Some(path) = e.args.first().and_then(Arg::str) {
                    let p = procs.entry(e.pid).or_default();
                    p.cwd = resolve(&cwd, path);
                }
            }
            "open" | "creat" => {
                let path = e.args.first().and_then(Arg::str);
                let flags = e.args.get(1);
                if let Some(path) = path
                    && (e.call == "creat" || writes_flags(flags))
                {
                    writes.push((e.pid, resolve(&cwd, path)));
                }
            }
            "openat" => {
                if let (Some(Arg::Other(dirfd)), Some(path)) =
                    (e.args.first(), e.args.get(1).and_then(Arg::str))
                    && (dirfd == "AT_FDCWD" || path.starts_with(b"/"))
                    && writes_flags(e.args.get(2))
                {
                    writes.push((e.pid, resolve(&cwd, path)));
                }
            }
            "rename" => {
                if let Some(to) = e.args.get(1).and_then(Arg::str) {
                    writes.push((e.pid, resolve(&cwd, to)));
                }
            }
            "renameat" | "renameat2" => {
                if let (Some(Arg::Other(dirfd)), Some(to)) =
                    (e.args.get(2), e.args.get(3).and_then(Arg::str))
                    && (dirfd == "AT_FDCWD" || to.starts_with(b"/"))
                {
                    writes.push((e.pid, resolve(&cwd, to)));
                }
            }
            _ => {}
        }
    }
    let mut out: BTreeMap<Vec<u8>, Vec<Action>> = BTreeMap::new();
    for (seq, (pid, path)) in writes.into_iter().enumerate() {
        let Ok(rel) = path.strip_prefix(build_dir) else {
            continue;
        };
        let rel_bytes = rel.as_os_str().as_encoded_bytes().to_vec();
        let name = rel
            .file_name()
            .map(|n| n.as_encoded_bytes().to_vec())
            .unwrap_or_default();
        let writer = credited(&procs, pid, &name);
        let Some(p) = procs.get(&writer) else {
            continue;
        };
        let cwd = p
            .cwd
            .strip_prefix(build_dir)
            .map_or_else(|_| p.cwd.clone(), Path::to_path_buf);
        let action = Action {
            argv: p.argv.iter().map(|a| Text::new(a.clone())).collect(),
            cwd: Text::new(if cwd.as_os_str().is_empty() {
                b".".to_vec()
            } else {
                cwd.as_os_str().as_encoded_bytes().to_vec()
            }),
            wrote: vec![Text::new(rel_bytes.clone())],
            note: note(&p.argv),
            seq: seq as u64,
        };
        let list = out.entry(rel_bytes).or_default();
        if !list
            .iter()
            .any(|a| a.argv == action.argv && a.cwd == action.cwd)
        {
            list.push(action);
        }
    }
    out
}

/// Does an open's flags argument ask for writing?
fn writes_flags(flags: Option<&Arg>) -> bool {
    matches!(flags, Some(Arg::Other(f)) if f.contains("O_WRONLY") || f.contains("O_RDWR") || f.contains("O_CREAT"))
}

/// The outermost process (from `pid` up its parents) whose command line
/// names the file written; `pid` itself when none does.
fn credited(procs: &BTreeMap<u32, Proc>, pid: u32, name: &[u8]) -> u32 {
    let names = |p: &Proc| {
        !name.is_empty()
            && p.argv
                .iter()
                .any(|a| a.windows(name.len()).any(|w| w == name))
    };
    let mut best = pid;
    let mut at = procs.get(&pid).and_then(|p| p.parent);
    while let Some(parent) = at {
        let Some(p) = procs.get(&parent) else { break };
        if names(p) {
            best = parent;
        }
        at = p.parent;
    }
    best
}

/// Join a traced path to a working directory, without touching the file
/// system (the paths are the sandbox's).
fn resolve(cwd: &Path, path: &[u8]) -> PathBuf {
    let path = Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path));
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// What a command line lacks that would fix what it writes.
fn note(argv: &[Vec<u8>]) -> Option<ActionNote> {
    let program = argv.first().map(|p| {
        let name = p.rsplit(|&c| c == b'/').next().unwrap_or(p);
        String::from_utf8_lossy(name).into_owned()
    })?;
    let has = |f: &dyn Fn(&[u8]) -> bool| argv.iter().skip(1).any(|a| f(a));
    let compiler = ["gcc", "g++", "cc", "c++", "clang", "clang++"]
        .iter()
        .any(|c| program == *c || program.ends_with(&format!("-{c}")));
    if compiler
        && has(&|a| a.starts_with(b"-g") && a != b"-g0")
        && !has(&|a| {
            a.starts_with(b"-ffile-prefix-map")
                || a.starts_with(b"-fdebug-prefix-map")
                || a.starts_with(b"-fdebug-compilation-dir")
        })
    {
        return Some(ActionNote::NoPrefixMap);
    }
    if program == "ar" && argv.get(1).is_some_and(|m| !m.contains(&b'D')) {
        return Some(ActionNote::NonDeterministicAr);
    }
    let python_compile = has(&|a| a == b"compileall" || a == b"py_compile");
    if python_compile && !has(&|a| a.starts_with(b"--invalidation-mode")) {
        return Some(ActionNote::TimestampPyc);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_with_strings_lists_and_flags() {
        let e = parse_line(
            7,
            r#"1796226801.013412 execve("/usr/bin/gcc", ["gcc", "-g", "-o", "o/a\"b.o"], 0x5647 /* 39 vars */) = 0"#,
        )
        .unwrap();
        assert_eq!(e.call, "execve");
        assert_eq!(
            e.args[1],
            Arg::List(vec![
                b"gcc".to_vec(),
                b"-g".to_vec(),
                b"-o".to_vec(),
                b"o/a\"b.o".to_vec()
            ])
        );
        let e = parse_line(
            9,
            r#"1796226801.090057 openat(AT_FDCWD, "o/\303\251.o", O_RDWR|O_CREAT|O_TRUNC, 0666) = 3"#,
        )
        .unwrap();
        assert_eq!(e.args[1], Arg::Str("o/é.o".as_bytes().to_vec()));
        assert!(writes_flags(e.args.get(2)));
        assert_eq!(e.ret, 3);
        let e = parse_line(5, "1796226800.999689 vfork()               = 6").unwrap();
        assert_eq!((e.call.as_str(), e.ret), ("vfork", 6));
        assert!(parse_line(5, "1796226801.012720 --- SIGCHLD {si_signo=SIGCHLD} ---").is_none());
    }

    #[test]
    fn writes_are_credited_to_the_command_that_names_them() {
        let build = Path::new("/b/src");
        let lines = [
            (1, r#"1.0 execve("/usr/bin/make", ["make"], 0x1) = 0"#),
            (1, "1.1 vfork() = 2"),
            (
                2,
                r#"1.2 execve("/usr/bin/gcc", ["gcc", "-g", "-c", "-o", "lib/a.o", "lib/a.c"], 0x1) = 0"#,
            ),
            (2, "1.3 vfork() = 3"),
            (
                3,
                r#"1.4 execve("/usr/bin/as", ["as", "-o", "lib/a.o", "/tmp/x.s"], 0x1) = 0"#,
            ),
            (
                3,
                r#"1.5 openat(AT_FDCWD, "lib/a.o", O_RDWR|O_CREAT|O_TRUNC, 0666) = 3"#,
            ),
            (1, "1.6 vfork() = 4"),
            (
                4,
                r#"1.7 execve("/bin/sh", ["sh", "-c", "python3 gen.py > out/info.py"], 0x1) = 0"#,
            ),
            (4, r#"1.8 chdir("python") = 0"#),
            (
                4,
                r#"1.9 openat(AT_FDCWD, "../out/info.py", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3"#,
            ),
        ];
        let events: Vec<Event> = lines
            .iter()
            .filter_map(|(pid, l)| parse_line(*pid, l))
            .collect();
        assert_eq!(events.len(), lines.len());
        let writers = replay(&events, build);
        let obj = &writers[&b"lib/a.o".to_vec()][0];
        let argv: Vec<String> = obj.argv.iter().map(|a| a.lossy().into_owned()).collect();
        assert_eq!(argv, ["gcc", "-g", "-c", "-o", "lib/a.o", "lib/a.c"]);
        assert_eq!(obj.note, Some(ActionNote::NoPrefixMap));
        let info = &writers[&b"out/info.py".to_vec()][0];
        assert_eq!(info.argv[0].lossy(), "sh");
        assert_eq!(info.cwd.lossy(), "python");
    }
}
