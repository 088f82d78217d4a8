//! The SDK driven in memory over a fake library, as peers/sdk/go/run_test.go
//! drives the Go SDK: ids, argument errors, error kinds, capabilities,
//! close/unlink bookkeeping, library errors and panics.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use arrow_array::{Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde_json::Value;
use vgis_peer::{Backend, Error, Info, Kind, Metadata, Resolution, Result, Segment};

/// What the fake segments were asked, in order.
type Log = Rc<RefCell<Vec<String>>>;

#[derive(Debug)]
struct LibraryError(&'static str);

impl fmt::Display for LibraryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for LibraryError {}

struct Fake {
    caps: Vec<&'static str>,
    log: Log,
}

struct FakeSegment {
    name: String,
    log: Log,
}

impl Backend for Fake {
    type Segment = FakeSegment;

    fn info(&self) -> Info {
        Info {
            name: "fake".into(),
            version: "0".into(),
            language: "rust".into(),
            arrow_library: "arrow-rs".into(),
            arrow_version: "60".into(),
            capabilities: self.caps.clone(),
            min_batch_bytes: None,
        }
    }

    fn create(&mut self, name: &str, size: u64) -> Result<FakeSegment> {
        if size <= 65_536 {
            return Err(Error::new(Kind::BadRequest, "[LIFE-1] too small"));
        }
        if name == "/taken" {
            return Err(LibraryError("exists").into());
        }
        Ok(FakeSegment {
            name: name.into(),
            log: self.log.clone(),
        })
    }

    fn attach(&mut self, name: &str, size: Option<u64>) -> Result<FakeSegment> {
        match size {
            None => panic!("attach exploded"),
            Some(_) => Ok(FakeSegment {
                name: name.into(),
                log: self.log.clone(),
            }),
        }
    }

    /// Library errors named "exists" are bad names; others stay internal.
    fn classify(&self, op: &str, error: &(dyn std::error::Error + 'static)) -> Error {
        match error.downcast_ref::<LibraryError>() {
            Some(e) if e.0 == "exists" => Error::new(Kind::BadName, format!("{op}: {e}")),
            _ => Error::new(Kind::Internal, error.to_string()),
        }
    }
}

impl FakeSegment {
    fn note(&self, what: &str) {
        self.log.borrow_mut().push(format!("{what} {}", self.name));
    }
}

impl Segment for FakeSegment {
    fn name(&self) -> &str {
        &self.name
    }
    fn size(&self) -> u64 {
        u64::MAX
    }
    fn header(&mut self, length: u64) -> Result<Vec<u8>> {
        Ok(vec![0xab; length as usize])
    }
    fn close(&mut self) -> Result<()> {
        self.note("close");
        Ok(())
    }
    fn unlink(&mut self) -> Result<()> {
        self.note("unlink");
        Ok(())
    }
    fn write(&mut self, _batch: &RecordBatch) -> Result<Option<(u64, u64)>> {
        Ok(None)
    }
    fn resolve(&mut self, batch: RecordBatch, metadata: Metadata) -> Result<Resolution> {
        Ok(Resolution {
            batch,
            metadata,
            pointer: false,
            release_offset: None,
        })
    }
    fn reset(&mut self) -> Result<()> {
        self.note("reset");
        Ok(())
    }
}

fn serve_lines(caps: &[&'static str], lines: &[&str]) -> (Vec<Value>, Vec<String>) {
    let log = Log::default();
    let fake = Fake {
        caps: caps.to_vec(),
        log: log.clone(),
    };
    let input = lines.join("\n") + "\n";
    let mut out = Vec::new();
    vgis_peer::serve(fake, input.as_bytes(), &mut out);
    let responses = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let log = log.borrow().clone();
    (responses, log)
}

fn kind(response: &Value) -> &str {
    response["error"]["kind"].as_str().unwrap_or("")
}

#[test]
fn ids_are_echoed_exactly() {
    let (got, _) = serve_lines(
        &[],
        &[
            r#"{"id": 18446744073709551615, "op": "hello"}"#,
            r#"{"id": "seven", "op": "hello"}"#,
            r#"{"op": "hello"}"#,
            "not json",
            "[1, 2]",
        ],
    );
    assert_eq!(got[0]["id"].as_u64(), Some(u64::MAX));
    assert_eq!(got[1]["id"], "seven");
    assert!(got[2]["id"].is_null());
    for answer in &got[3..] {
        assert!(answer["id"].is_null());
        assert_eq!(kind(answer), "bad_request");
    }
}

#[test]
fn hello_reports_info_and_capabilities_in_order() {
    let (got, _) = serve_lines(&["reset", "allocate"], &[r#"{"id": 1, "op": "hello"}"#]);
    let hello = &got[0];
    assert_eq!(hello["ok"], true);
    assert_eq!(hello["protocol"], 1);
    assert_eq!(hello["arrow"]["library"], "arrow-rs");
    assert_eq!(
        hello["capabilities"],
        serde_json::json!(["reset", "allocate"])
    );
    assert!(hello.get("min_batch_bytes").is_none());
}

#[test]
fn arguments_are_checked_with_bad_request() {
    let (got, _) = serve_lines(
        &[],
        &[
            r#"{"id": 1, "op": "create", "name": "/a"}"#,
            r#"{"id": 2, "op": "create", "name": "/a", "size": -1}"#,
            r#"{"id": 3, "op": "create", "name": "/a", "size": 1.5}"#,
            r#"{"id": 4, "op": "create", "name": 7, "size": 70000}"#,
            r#"{"id": 5, "op": "create", "name": "/a", "size": 18446744073709551615}"#,
            r#"{"id": 6, "op": "header", "segment": "s9", "length": 4}"#,
            r#"{"id": 7, "op": "resolve", "segment": "s1", "batch": "/nonexistent", "out": "/tmp/x"}"#,
            r#"{"id": 8, "op": "resolve", "segment": "s1", "batch": "/dev/null", "metadata": {"k": 1}, "out": "/tmp/x"}"#,
        ],
    );
    for answer in &got[..4] {
        assert_eq!(kind(answer), "bad_request", "{answer}");
    }
    assert_eq!(got[4]["size"].as_u64(), Some(u64::MAX));
    assert_eq!(got[4]["segment"], "s1");
    assert_eq!(kind(&got[5]), "bad_request");
    assert_eq!(kind(&got[6]), "bad_request");
    assert_eq!(kind(&got[7]), "ipc_error", "an empty file is no IPC stream");
}

#[test]
fn kinds_of_adapter_library_and_panic_errors() {
    let (got, _) = serve_lines(
        &[],
        &[
            r#"{"id": 1, "op": "create", "name": "/a", "size": 10}"#,
            r#"{"id": 2, "op": "create", "name": "/taken", "size": 70000}"#,
            r#"{"id": 3, "op": "attach", "name": "/a", "size": null}"#,
            r#"{"id": 4, "op": "attach", "name": "/a", "size": 70000}"#,
        ],
    );
    assert_eq!(kind(&got[0]), "bad_request");
    assert_eq!(got[0]["error"]["message"], "[LIFE-1] too small");
    assert_eq!(kind(&got[1]), "bad_name");
    assert_eq!(got[1]["error"]["message"], "create: exists");
    assert_eq!(kind(&got[2]), "internal");
    let message = got[2]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("panic while answering attach: attach exploded"),
        "{message}"
    );
    assert_eq!(got[3]["ok"], true, "the peer lives on after a panic");
}

#[test]
fn undeclared_and_unknown_ops_are_unsupported() {
    let (got, log) = serve_lines(
        &["reset"],
        &[
            r#"{"id": 1, "op": "create", "name": "/a", "size": 70000}"#,
            r#"{"id": 2, "op": "allocate", "segment": "s1", "size": 8}"#,
            r#"{"id": 3, "op": "bench", "segment": "s1", "action": "write", "repeat": 1}"#,
            r#"{"id": 4, "op": "bogus"}"#,
            r#"{"id": 5, "op": "reset", "segment": "s1"}"#,
        ],
    );
    for answer in &got[1..4] {
        assert_eq!(kind(answer), "unsupported", "{answer}");
    }
    assert_eq!(got[4]["ok"], true);
    assert!(log.contains(&"reset /a".to_string()));
}

#[test]
fn closed_handles_serve_only_close_and_unlink() {
    let (got, log) = serve_lines(
        &[],
        &[
            r#"{"id": 1, "op": "create", "name": "/a", "size": 70000}"#,
            r#"{"id": 2, "op": "close", "segment": "s1"}"#,
            r#"{"id": 3, "op": "header", "segment": "s1", "length": 4}"#,
            r#"{"id": 4, "op": "close", "segment": "s1"}"#,
            r#"{"id": 5, "op": "unlink", "segment": "s1"}"#,
            r#"{"id": 6, "op": "unlink", "segment": "s1"}"#,
        ],
    );
    assert_eq!(kind(&got[2]), "bad_request");
    for answer in [&got[1], &got[3], &got[4], &got[5]] {
        assert_eq!(answer["ok"], true, "{answer}");
    }
    assert_eq!(
        log,
        ["close /a", "unlink /a"],
        "closed and unlinked once each"
    );
}

#[test]
fn shutdown_closes_everything_and_unlinks_what_was_created() {
    let (got, log) = serve_lines(
        &[],
        &[
            r#"{"id": 1, "op": "create", "name": "/a", "size": 70000}"#,
            r#"{"id": 2, "op": "attach", "name": "/b", "size": 70000}"#,
            r#"{"id": 3, "op": "unlink", "segment": "s2"}"#,
            r#"{"id": 4, "op": "header", "segment": "s2", "length": 2}"#,
            r#"{"id": 5, "op": "shutdown"}"#,
            r#"{"id": 6, "op": "hello"}"#,
        ],
    );
    assert_eq!(got.len(), 5, "nothing is answered after shutdown");
    assert_eq!(kind(&got[2]), "bad_request", "an attacher never unlinks");
    assert_eq!(got[3]["hex"], "abab");
    assert_eq!(log, ["close /a", "unlink /a", "close /b"]);
}

#[test]
fn end_of_input_shuts_down() {
    let (_, log) = serve_lines(
        &[],
        &[r#"{"id": 1, "op": "create", "name": "/a", "size": 70000}"#],
    );
    assert_eq!(log, ["close /a", "unlink /a"]);
}

#[test]
fn write_needs_a_batch_and_bench_a_repeat() {
    let dir = std::env::temp_dir().join(format!("vgis-peer-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    let batch =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2]))]).unwrap();
    let batch_file = dir.join("batch.arrows");
    vgis_peer::write_file(batch_file.to_str().unwrap(), &batch).unwrap();
    let (read_schema, read_batch) = vgis_peer::read_file(batch_file.to_str().unwrap()).unwrap();
    assert_eq!(read_schema, schema);
    assert_eq!(read_batch.as_ref(), Some(&batch));
    let (out, path) = (dir.join("out.arrows"), batch_file.to_str().unwrap());
    let (out, create) = (
        out.to_str().unwrap(),
        r#"{"id": 1, "op": "create", "name": "/a", "size": 70000}"#,
    );
    let requests = [
        create.to_string(),
        format!(r#"{{"id": 2, "op": "write", "segment": "s1", "batch": "{path}"}}"#),
        format!(
            r#"{{"id": 3, "op": "resolve", "segment": "s1", "batch": "{path}", "metadata": {{"b": "2", "a": "1"}}, "out": "{out}"}}"#
        ),
        format!(
            r#"{{"id": 4, "op": "bench", "segment": "s1", "action": "write", "batch": "{path}", "repeat": 0}}"#
        ),
        format!(
            r#"{{"id": 5, "op": "bench", "segment": "s1", "action": "fly", "batch": "{path}", "repeat": 1}}"#
        ),
    ];
    let lines: Vec<&str> = requests.iter().map(String::as_str).collect();
    let (got, _) = serve_lines(&["bench"], &lines);
    assert!(
        got[1]["offset"].is_null() && got[1]["length"].is_null(),
        "{}",
        got[1]
    );
    assert_eq!(got[2]["metadata"], serde_json::json!({"a": "1", "b": "2"}));
    assert_eq!(got[2]["pointer"], false);
    assert_eq!(vgis_peer::read_file(out).unwrap().1.as_ref(), Some(&batch));
    assert_eq!(kind(&got[3]), "bad_request");
    assert_eq!(kind(&got[4]), "bad_request");
    std::fs::remove_dir_all(&dir).unwrap();
}
