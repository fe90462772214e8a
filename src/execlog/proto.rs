//! The messages of Bazel's `src/main/protobuf/spawn.proto` that the compact
//! execution log (`--execution_log_compact_file`, stable since Bazel 7.4)
//! carries, written by hand with the published field numbers. Fields
//! `twice` does not use (metrics) are left out; prost skips them.

use std::collections::BTreeMap;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Digest {
    #[prost(string, tag = "1")]
    pub hash: String,
    #[prost(int64, tag = "2")]
    pub size_bytes: i64,
    #[prost(string, tag = "3")]
    pub hash_function_name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct EnvironmentVariable {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Platform {
    #[prost(message, repeated, tag = "1")]
    pub properties: Vec<EnvironmentVariable>,
}

/// `ExecLogEntry`: one entry of the compact log.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExecLogEntry {
    /// Nonzero when later entries may refer to this one.
    #[prost(uint32, tag = "1")]
    pub id: u32,
    #[prost(oneof = "entry::Type", tags = "2, 3, 4, 5, 6, 7, 8, 9, 10")]
    pub r#type: Option<entry::Type>,
}

pub mod entry {
    use super::*;

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Type {
        #[prost(message, tag = "2")]
        Invocation(Invocation),
        #[prost(message, tag = "3")]
        File(File),
        #[prost(message, tag = "4")]
        Directory(Directory),
        #[prost(message, tag = "5")]
        UnresolvedSymlink(UnresolvedSymlink),
        #[prost(message, tag = "6")]
        InputSet(InputSet),
        #[prost(message, tag = "7")]
        Spawn(Spawn),
        #[prost(message, tag = "8")]
        SymlinkAction(SymlinkAction),
        #[prost(message, tag = "9")]
        SymlinkEntrySet(SymlinkEntrySet),
        #[prost(message, tag = "10")]
        RunfilesTree(RunfilesTree),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Invocation {
        #[prost(string, tag = "1")]
        pub hash_function_name: String,
        #[prost(string, tag = "2")]
        pub workspace_runfiles_directory: String,
        #[prost(bool, tag = "3")]
        pub sibling_repository_layout: bool,
        #[prost(string, tag = "4")]
        pub id: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct File {
        #[prost(string, tag = "1")]
        pub path: String,
        #[prost(message, optional, tag = "2")]
        pub digest: Option<Digest>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Directory {
        #[prost(string, tag = "1")]
        pub path: String,
        #[prost(message, repeated, tag = "2")]
        pub files: Vec<File>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct UnresolvedSymlink {
        #[prost(string, tag = "1")]
        pub path: String,
        #[prost(string, tag = "2")]
        pub target_path: String,
    }

    /// A nested set of inputs: direct entries plus transitive sets.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct InputSet {
        #[prost(uint32, repeated, tag = "5")]
        pub input_ids: Vec<u32>,
        #[prost(uint32, repeated, tag = "4")]
        pub transitive_set_ids: Vec<u32>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SymlinkEntrySet {
        #[prost(btree_map = "string, uint32", tag = "1")]
        pub direct_entries: BTreeMap<String, u32>,
        #[prost(uint32, repeated, tag = "2")]
        pub transitive_set_ids: Vec<u32>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RunfilesTree {
        #[prost(string, tag = "1")]
        pub path: String,
        #[prost(uint32, tag = "2")]
        pub input_set_id: u32,
        #[prost(uint32, tag = "3")]
        pub symlinks_id: u32,
        #[prost(uint32, tag = "4")]
        pub root_symlinks_id: u32,
        #[prost(string, repeated, tag = "5")]
        pub empty_files: Vec<String>,
        #[prost(message, optional, tag = "6")]
        pub repo_mapping_manifest: Option<File>,
        #[prost(bool, tag = "7")]
        pub legacy_external_runfiles: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Output {
        #[prost(oneof = "output::Type", tags = "5, 4")]
        pub r#type: Option<output::Type>,
    }

    pub mod output {
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Type {
            #[prost(uint32, tag = "5")]
            OutputId(u32),
            #[prost(string, tag = "4")]
            InvalidOutputPath(String),
        }
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Spawn {
        #[prost(string, repeated, tag = "1")]
        pub args: Vec<String>,
        #[prost(message, repeated, tag = "2")]
        pub env_vars: Vec<EnvironmentVariable>,
        #[prost(message, optional, tag = "3")]
        pub platform: Option<Platform>,
        #[prost(uint32, tag = "4")]
        pub input_set_id: u32,
        #[prost(uint32, tag = "5")]
        pub tool_set_id: u32,
        #[prost(message, repeated, tag = "6")]
        pub outputs: Vec<Output>,
        #[prost(string, tag = "7")]
        pub target_label: String,
        #[prost(string, tag = "8")]
        pub mnemonic: String,
        #[prost(int32, tag = "9")]
        pub exit_code: i32,
        #[prost(string, tag = "10")]
        pub status: String,
        #[prost(string, tag = "11")]
        pub runner: String,
        #[prost(bool, tag = "12")]
        pub cache_hit: bool,
        #[prost(bool, tag = "13")]
        pub remotable: bool,
        #[prost(bool, tag = "14")]
        pub cacheable: bool,
        #[prost(bool, tag = "15")]
        pub remote_cacheable: bool,
        #[prost(message, optional, tag = "16")]
        pub digest: Option<Digest>,
        #[prost(int64, tag = "17")]
        pub timeout_millis: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SymlinkAction {
        #[prost(string, tag = "1")]
        pub input_path: String,
        #[prost(string, tag = "2")]
        pub output_path: String,
        #[prost(string, tag = "3")]
        pub target_label: String,
        #[prost(string, tag = "4")]
        pub mnemonic: String,
    }
}
