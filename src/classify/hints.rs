//! A concrete fix for every cause.

use crate::finding::{Canary, Cause, MetadataField, TimestampEncoding, ToolchainPart};

pub(crate) fn hint(cause: &Cause) -> &'static str {
    use TimestampEncoding as E;
    match cause {
        Cause::Timestamp {
            encoding: E::CDate | E::CTime | E::Asctime,
        } => {
            "__DATE__/__TIME__/__TIMESTAMP__ embed the compile time: remove them (gcc -Wdate-time \
             finds them) or export SOURCE_DATE_EPOCH, which GCC >= 7 and Clang use instead of the clock"
        }
        Cause::Timestamp {
            encoding: E::DosDateTime,
        } => {
            "zip/FAT entries carry MS-DOS mtimes: export SOURCE_DATE_EPOCH for the archiver (wheel, \
             flit, hatchling, maturin honour it) or normalise the archive (strip-nondeterminism)"
        }
        Cause::Timestamp {
            encoding: E::FileMtime,
        } => {
            "file mtimes are not part of a content-addressed cache key; where they are archived, \
             pin them (tar --mtime=@$SOURCE_DATE_EPOCH --clamp-mtime, touch -d @$SOURCE_DATE_EPOCH)"
        }
        Cause::Timestamp {
            encoding: E::PycSourceMtime,
        } => {
            "a timestamp-based .pyc records its source's mtime: compile with \
             `python -m compileall --invalidation-mode checked-hash` (py_compile defaults to it when \
             SOURCE_DATE_EPOCH is set; uv: UV_COMPILE_BYTECODE with PYC_INVALIDATION_MODE), or clamp \
             source mtimes to SOURCE_DATE_EPOCH before compiling"
        }
        Cause::Timestamp {
            encoding: E::GzipMtime,
        } => {
            "the gzip header records the input's mtime (and name): compress with `gzip -n`, \
             GzipFile(mtime=0) in Python, or tar ... | gzip -n; SOURCE_DATE_EPOCH alone does not reach gzip"
        }
        Cause::Timestamp {
            encoding: E::PngTime,
        } => {
            "the PNG records when it was written (tIME chunk, or a date tEXt chunk): leave the \
             chunks out (ImageMagick -define png:exclude-chunks=date,time, optipng -strip all) or \
             write them from SOURCE_DATE_EPOCH"
        }
        Cause::Timestamp {
            encoding: E::NtfsFiletime,
        } => {
            "the zip stores NTFS file times (extra field 0x000a) besides the MS-DOS time: turn them \
             off (7-Zip -mtm=off -mtc=off -mta=off) or clamp the files' mtimes to \
             SOURCE_DATE_EPOCH before archiving"
        }
        Cause::Timestamp {
            encoding: E::Iso9660DirDate | E::Iso9660VolumeDate,
        } => {
            "the ISO 9660 image records volume and file dates: build it with xorriso, which takes \
             every date from SOURCE_DATE_EPOCH, or pass fixed dates (-volume_date all_file_dates \
             and --modification-date) and clamp the files' mtimes"
        }
        Cause::Timestamp {
            encoding: E::SfntLongDateTime,
        } => {
            "the font's head table records when it was built (head.modified, and the checksums \
             over it): set it from SOURCE_DATE_EPOCH (fontmake and fontTools honour it) or keep \
             the timestamp (ttx --no-recalc-timestamp)"
        }
        Cause::Timestamp {
            encoding: E::IccDateTime,
        } => {
            "the ICC profile header records its creation date: write a fixed date into the \
             header's dateTimeNumber (offset 24) when the profile is generated, or ship the \
             profile as a source file"
        }
        Cause::Timestamp {
            encoding: E::TexDate,
        } => {
            "TeX stamps its output with the run's date and time: export SOURCE_DATE_EPOCH and \
             FORCE_SOURCE_DATE=1 (TeX Live), so \\year, \\time and the dvips/PDF dates follow it"
        }
        Cause::Timestamp { .. } => {
            "the build embeds the current time: take it from SOURCE_DATE_EPOCH \
             (reproducible-builds.org/specs/source-date-epoch) or leave it out"
        }
        Cause::BuildPath { .. } => {
            "the build directory leaks into the output: map it to a fixed name with \
             -ffile-prefix-map=$PWD=. (GCC >= 8, Clang >= 10; -fdebug-prefix-map before that), \
             --remap-path-prefix for rustc (cargo: trim-paths), compileall -d for .pyc, and relative paths in generated files"
        }
        Cause::Ordering { .. } => {
            "records come out in directory-listing or hash order: sort inputs before use \
             ($(sort $(wildcard ...)), sorted(os.listdir()), find ... | LC_ALL=C sort, tar --sort=name)"
        }
        Cause::OnlyIn { .. } => {
            "one run produced this file and the other did not: look for file names built from the \
             time, a PID or a random value, and for steps that run conditionally"
        }
        Cause::FileType => {
            "a file on one side is a directory, symlink or special file on the other: create it \
             the same way in every build"
        }
        Cause::ExecutableBit => {
            "caches key on the executable bit: set modes explicitly (install -m 0755, chmod) instead \
             of inheriting them from the umask or the checkout"
        }
        Cause::SymlinkTarget => {
            "the link target differs: use relative targets (ln -sr) that do not embed the build directory"
        }
        Cause::Metadata {
            field: MetadataField::Mtime,
        } => {
            "mtimes are not part of a content-addressed cache key; where they are archived, pin them \
             to SOURCE_DATE_EPOCH"
        }
        Cause::Metadata { .. } => {
            "file-system metadata is not part of a content-addressed cache key; where it is archived, \
             normalise it (tar --owner=0 --group=0 --numeric-owner --mode=go-w)"
        }
        Cause::Unknown { .. } => {
            "no known pattern explains this difference: `twice audit --bisect` pins it to a \
             variation; suspects are random values, hash-seed-dependent iteration (PYTHONHASHSEED) \
             and parallel scheduling"
        }
        Cause::Consequence { .. } => {
            "this difference follows from another one in the same artifact: fix that root cause and \
             this one disappears with it"
        }
        Cause::Unparsed { .. } => {
            "the file is truncated, corrupt or of a variant twice does not read; the bytes were \
             compared instead. If a real tool produced it, report it with the file attached"
        }
        Cause::Environment { what: Canary::Home } => {
            "the build records $HOME: use paths relative to the source tree, or pass the directory \
             explicitly instead of expanding ~"
        }
        Cause::Environment { what: Canary::User } => {
            "the build records the user name ($USER, getpwuid): leave it out, or take it from a \
             fixed build variable"
        }
        Cause::Environment {
            what: Canary::Hostname | Canary::Domain,
        } => {
            "the build records the machine's host or domain name (uname -n, socket.gethostname(), \
             `hostname`): leave it out of artifacts, or use a fixed value for release builds"
        }
        Cause::Environment {
            what: Canary::TimeZone,
        } => {
            "the build formats times in the local time zone: use UTC (TZ=UTC, date -u, gmtime, \
             datetime.timezone.utc) or take the time from SOURCE_DATE_EPOCH"
        }
        Cause::Environment {
            what: Canary::Locale,
        } => {
            "the build depends on the locale (messages, number and date formats, sort order): run it \
             with LC_ALL=C.UTF-8, or format and sort locale-independently"
        }
        Cause::Environment {
            what: Canary::Umask,
        } => {
            "the build records the umask: set file modes explicitly (install -m, chmod) rather than \
             inheriting them"
        }
        Cause::Environment { .. } => {
            "the build copies an environment value into its output: pass only the variables it \
             needs, with fixed values (env -i, Bazel's --incompatible_strict_action_env)"
        }
        Cause::Limit { .. } => {
            "twice stopped at a safety limit and did not compare what lies beyond it; the option \
             named above raises it (only for inputs you trust)"
        }
        Cause::RandomName { .. } => {
            "a random name (mktemp directory, GUID, random suffix) ends up in the output: derive \
             the name from the inputs, or keep temporary directories out of what is archived \
             (archive relative to the directory, tar -C DIR .)"
        }
        Cause::Encrypted { .. } => {
            "encryption draws a random header (salt, IV) on every run, so encrypted members never \
             reproduce: encrypt after the reproducible build, outside the artifact the cache keys \
             on, or compare the plaintexts"
        }
        Cause::Compressor { .. } => {
            "the content is identical but the compressed bytes differ: pin the compressor (zlib vs \
             zlib-ng, its version) and the level, or store members uncompressed; the archive is a \
             cache key even when what it holds is not"
        }
        Cause::MarshalRefs { .. } => {
            "CPython sets marshal's FLAG_REF from reference counts, so what else the compiling \
             process held changes the bytes (cpython#98819, #129724): compile each file in a fresh \
             process in a fixed order (compileall -j0 does not guarantee it), or normalise the .pyc \
             afterwards (add-determinism's pyc handler)"
        }
        Cause::HashOrder { .. } => {
            "set and frozenset constants are marshalled in hash order, which follows the string \
             hash seed before Python 3.11: build with PYTHONHASHSEED=0, or on 3.11+ where marshal \
             sorts set elements"
        }
        Cause::Permissions => {
            "member modes come from the umask or the checkout: set them explicitly (umask 022, \
             chmod before packing, tar --mode=go-w; flit and strip-nondeterminism normalise to \
             644/755)"
        }
        Cause::Suspicious { .. } => {
            "the archive is malformed in a way extractors mishandle (path traversal, overlapping \
             entries, impossible sizes); twice wrote nothing to disk. Find the tool that produced it"
        }
        Cause::Toolchain {
            part: ToolchainPart::Version,
            ..
        } => {
            "the compiler or linker version differs between the runs: pin the toolchain and make \
             it an input of the action, so every worker uses the same one"
        }
        Cause::Toolchain {
            part: ToolchainPart::Flags,
            ..
        } => {
            "the compiler recorded different flags (DW_AT_producer, -grecord-gcc-switches): pass \
             the same flags in every build, keep absolute paths out of them, or build with \
             -gno-record-gcc-switches"
        }
        Cause::Toolchain {
            part: ToolchainPart::RustMetadataHash,
            ..
        } => {
            "Rust symbol hashes (h<16 hex>) derive from -C metadata and the crate's identity: keep \
             -C metadata a function of the crate and its version (not of paths or RUSTFLAGS), and \
             remap paths with --remap-path-prefix or cargo's trim-paths"
        }
        Cause::BuildIdOnly => {
            "only the GNU build-id differs: it hashes the whole link output, including debug info \
             stripped since, or is random (--build-id=uuid); compare the unstripped or separate \
             debug files to find the root, and link with --build-id=sha1"
        }
        Cause::ArchiveHeader { .. } => {
            "ar records each member's mtime, uid, gid and mode: create the archive in deterministic \
             mode (ar rcsD, or ar D; ranlib -D), or build binutils with \
             --enable-deterministic-archives"
        }
        Cause::RandomSeed { .. } => {
            "GCC names anonymous namespaces and fat-LTO sections with a random value per \
             compilation: pass -frandom-seed=<output file name> so the name is a function of the input"
        }
    }
}
