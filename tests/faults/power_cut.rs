//! A power cut, simulated from a trace of the server's writes (strace).
//!
//! Killing a process loses nothing the process handed to the operating
//! system: its writes sit in the page cache and reach the disk later, so a
//! SIGKILL cannot tell `synchronous = FULL` from `OFF`. A power cut loses
//! every write that was not forced to the disk. So the server runs under
//! strace, which records each `pwrite64` to a file and each `fsync` /
//! `fdatasync` / `ftruncate` as it completes, in order; "the disk after the
//! cut" is then each file as it was before the trace began, plus every
//! change to it that a later sync of that file made durable, and nothing
//! else. That is the harshest outcome a cut may have (real disks may also
//! keep some unsynced writes, which SQLite's WAL checksums are there to
//! handle), and the one that tells a commit that waited for the disk from
//! one that did not.
//!
//! Not modelled: directory entries (the files exist before the trace), and
//! disks that acknowledge a flush they have not done.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether strace runs here and may trace (ptrace may be forbidden in a
/// container).
pub fn strace_works() -> bool {
    Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// strace, set to record file writes and syncs to `log`, ready for the
/// program and its arguments. `-y` names each descriptor's file, `-xx`
/// writes every byte as `\xHH` (so data parse unambiguously), and
/// `--seccomp-bpf` stops the program only at the calls traced.
pub fn strace(log: &Path) -> Command {
    let mut command = Command::new("strace");
    command.args([
        "-f",
        "-qq",
        "--seccomp-bpf",
        "-y",
        "-xx",
        "-s",
        "1048576",
        "-e",
        "trace=pwrite64,fsync,fdatasync,ftruncate",
        "-o",
        log.to_str().unwrap(),
    ]);
    command
}

/// A change to a file not yet known to be on the disk.
enum Change {
    Write { offset: usize, data: Vec<u8> },
    Truncate(usize),
}

/// What the trace held.
#[derive(Debug, Default)]
pub struct Replay {
    /// Every file's content after the cut.
    pub files: HashMap<PathBuf, Vec<u8>>,
    /// Writes that a sync made durable.
    pub kept: usize,
    /// Writes no sync covered: lost in the cut.
    pub lost: usize,
    /// Syncs of the files the trace wrote.
    pub syncs: usize,
}

/// The files after a cut at the end of the trace `log`, starting from
/// `before` (each file's content when the trace began).
pub fn replay(log: &Path, before: HashMap<PathBuf, Vec<u8>>) -> Replay {
    let text = std::fs::read_to_string(log).expect("the trace");
    let mut replay = Replay {
        files: before,
        ..Replay::default()
    };
    let mut pending: HashMap<PathBuf, Vec<Change>> = HashMap::new();
    // Calls split by another thread's: pid → the first half.
    let mut unfinished: HashMap<&str, String> = HashMap::new();
    for line in text.lines() {
        let (pid, rest) = line.split_once(' ').expect("pid first");
        let rest = rest.trim_start();
        let call = if let Some(first) = rest.strip_suffix("<unfinished ...>") {
            unfinished.insert(pid, first.to_string());
            continue;
        } else if rest.starts_with("<...") {
            let first = unfinished.remove(pid).expect("a resumed call was begun");
            let tail = &rest[rest.find("resumed>").expect("resumed") + "resumed>".len()..];
            format!("{first}{tail}")
        } else if rest.starts_with("+++") || rest.starts_with("---") {
            continue;
        } else {
            rest.to_string()
        };
        let Some(call) = Call::parse(&call) else { continue };
        match call {
            Call::Write { path, offset, data } => pending.entry(path).or_default().push(Change::Write { offset, data }),
            Call::Truncate { path, length } => pending.entry(path).or_default().push(Change::Truncate(length)),
            Call::Sync { path } => {
                replay.syncs += 1;
                let file = replay.files.entry(path.clone()).or_default();
                for change in pending.remove(&path).unwrap_or_default() {
                    match change {
                        Change::Write { offset, data } => {
                            if file.len() < offset + data.len() {
                                file.resize(offset + data.len(), 0);
                            }
                            file[offset..offset + data.len()].copy_from_slice(&data);
                            replay.kept += 1;
                        }
                        Change::Truncate(length) => file.resize(length, 0),
                    }
                }
            }
        }
    }
    replay.lost = pending
        .values()
        .flatten()
        .filter(|c| matches!(c, Change::Write { .. }))
        .count();
    replay
}

/// A completed, successful call of the trace.
enum Call {
    Write {
        path: PathBuf,
        offset: usize,
        data: Vec<u8>,
    },
    Truncate {
        path: PathBuf,
        length: usize,
    },
    Sync {
        path: PathBuf,
    },
}

impl Call {
    /// `name(fd<path>, …) = result`; `None` for a failed call or one on
    /// no file.
    fn parse(call: &str) -> Option<Call> {
        let (name, args) = call.split_once('(')?;
        let (args, result) = args.rsplit_once(") = ")?;
        let result: i64 = result.split_whitespace().next()?.parse().ok()?;
        if result < 0 {
            return None;
        }
        let path = PathBuf::from(String::from_utf8(unescape(&args[args.find('<')? + 1..args.find('>')?])).ok()?);
        let after_fd = &args[args.find('>')? + 1..];
        match name {
            "pwrite64" => {
                let open = after_fd.find('"')? + 1;
                let close = open + after_fd[open..].find('"')?;
                let tail = &after_fd[close + 1..];
                assert!(
                    !tail.starts_with("..."),
                    "strace cut a write short; raise -s: {call:.200}"
                );
                let mut data = unescape(&after_fd[open..close]);
                // A short write wrote its first `result` bytes.
                data.truncate(result as usize);
                let offset = tail.rsplit(',').next()?.trim().parse().ok()?;
                Some(Call::Write { path, offset, data })
            }
            "ftruncate" => Some(Call::Truncate {
                path,
                length: after_fd.trim_start_matches(',').trim().parse().ok()?,
            }),
            "fsync" | "fdatasync" => Some(Call::Sync { path }),
            _ => None,
        }
    }
}

/// `\xHH…` as bytes (strace -xx writes every byte so).
fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 4);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x') {
            out.push(u8::from_str_radix(&text[i + 2..i + 4], 16).expect("hex"));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_synced_writes_survive_the_cut() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("trace");
        let hex = |s: &str| s.bytes().map(|b| format!("\\x{b:02x}")).collect::<String>();
        let (a, b) = (hex("/d/a"), hex("/d/b"));
        std::fs::write(
            &log,
            format!(
                "1 pwrite64(3<{a}>, \"{}\", 3, 2) = 3\n\
                 2 pwrite64(4<{b}>, \"{}\", 2, 0 <unfinished ...>\n\
                 1 fdatasync(3<{a}>) = 0\n\
                 2 <... pwrite64 resumed>) = 2\n\
                 1 pwrite64(3<{a}>, \"{}\", 1, 0) = 1\n\
                 2 pwrite64(4<{b}>, \"{}\", 2, 0) = -1 ENOSPC (No space left on device)\n\
                 2 +++ killed by SIGKILL +++\n",
                hex("xyz"),
                hex("hi"),
                hex("Q"),
                hex("no")
            ),
        )
        .unwrap();
        let before = HashMap::from([(PathBuf::from("/d/a"), b"ab".to_vec())]);
        let replay = replay(&log, before);
        assert_eq!(replay.files[Path::new("/d/a")], b"abxyz");
        assert!(!replay.files.contains_key(Path::new("/d/b")), "never synced");
        assert_eq!((replay.kept, replay.lost, replay.syncs), (1, 2, 1));
    }
}
