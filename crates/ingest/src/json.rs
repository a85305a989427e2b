//! JSON: a top-level array of objects, read one element at a time through serde's `SeqAccess`
//! so the file is never held whole. The first object's keys, in order, are the columns.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;
use std::io::{BufReader, Read};
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::decode::DecodeState;
use crate::reader::{map_io, RowConsumer};
use crate::IngestError;

pub(crate) struct JsonLimits {
    pub max_cell: usize,
    pub max_record: usize,
}

/// Reads a decoded JSON stream into `consumer`.
pub(crate) fn read_json<R: Read>(
    src: R,
    state: &DecodeState,
    limits: &JsonLimits,
    consumer: &mut dyn RowConsumer,
) -> Result<(), IngestError> {
    let since_mark = Rc::new(Cell::new(0u64));
    let limited = Limited {
        inner: src,
        since_mark: since_mark.clone(),
        limit: limits.max_record as u64 + BUF as u64,
        tripped: Rc::new(Cell::new(false)),
    };
    let tripped = limited.tripped.clone();
    let mut reader = BufReader::with_capacity(BUF, limited);
    let first = first_byte(&mut reader).map_err(|e| map_io(e, state, 0))?;
    match first {
        None => {
            return Err(IngestError::EmptyFile {
                detail: "the JSON file has no content".into(),
            })
        }
        Some(b'[') => {}
        Some(b) => {
            return Err(IngestError::NotArrayOfObjects {
                detail: format!("the file holds {}", describe_start(b)),
            })
        }
    }
    let mut ctx = Ctx {
        consumer,
        limits,
        since_mark,
        columns: Vec::new(),
        index: HashMap::new(),
        values: Vec::new(),
        rows: 0,
        error: None,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let result = de
        .deserialize_seq(ArrayVisitor { ctx: &mut ctx })
        .and_then(|()| de.end());
    if let Some(e) = ctx.error.take() {
        return Err(e);
    }
    let row = ctx.rows + 1;
    if let Err(e) = result {
        if tripped.get() {
            return Err(IngestError::RecordTooLarge {
                row,
                limit: limits.max_record as u64,
            });
        }
        if e.is_io() {
            return Err(map_io(e.into(), state, row));
        }
        return Err(IngestError::BadJson {
            line: e.line(),
            column: e.column(),
            detail: e.to_string(),
        });
    }
    if ctx.rows == 0 {
        return Err(IngestError::EmptyFile {
            detail: "the JSON array has no objects".into(),
        });
    }
    Ok(())
}

const BUF: usize = 64 * 1024;

/// The first non-whitespace byte, left unread.
fn first_byte<R: Read>(r: &mut BufReader<R>) -> std::io::Result<Option<u8>> {
    use std::io::BufRead;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(p) => {
                let b = buf[p];
                r.consume(p);
                return Ok(Some(b));
            }
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
}

fn describe_start(b: u8) -> &'static str {
    match b {
        b'{' => "one JSON object, not an array of objects",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        b'-' | b'0'..=b'9' => "a number",
        _ => "something that is not JSON",
    }
}

/// Counts bytes since the current element started, so one huge element is refused before it
/// is buffered whole.
struct Limited<R> {
    inner: R,
    since_mark: Rc<Cell<u64>>,
    limit: u64,
    tripped: Rc<Cell<bool>>,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.since_mark.get() > self.limit {
            self.tripped.set(true);
            return Err(std::io::Error::other("record too large"));
        }
        let n = self.inner.read(buf)?;
        self.since_mark.set(self.since_mark.get() + n as u64);
        Ok(n)
    }
}

struct Ctx<'a> {
    consumer: &'a mut dyn RowConsumer,
    limits: &'a JsonLimits,
    since_mark: Rc<Cell<u64>>,
    columns: Vec<String>,
    index: HashMap<String, usize>,
    values: Vec<String>,
    rows: u64,
    error: Option<IngestError>,
}

impl Ctx<'_> {
    fn fail<E: de::Error>(&mut self, e: IngestError) -> E {
        self.error = Some(e);
        E::custom("ingest stopped")
    }
}

struct ArrayVisitor<'a, 'b> {
    ctx: &'a mut Ctx<'b>,
}

impl<'de> Visitor<'de> for ArrayVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            self.ctx.since_mark.set(0);
            let row = self.ctx.rows + 1;
            if seq.next_element_seed(RowSeed { ctx: self.ctx, row })?.is_none() {
                return Ok(());
            }
            self.ctx.rows = row;
        }
    }
}

struct RowSeed<'a, 'b> {
    ctx: &'a mut Ctx<'b>,
    row: u64,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! not_an_object {
    ($($method:ident: $ty:ty => $what:expr),* $(,)?) => {
        $(fn $method<E: de::Error>(self, _: $ty) -> Result<(), E> {
            let detail = format!("element {} is {}", self.row, $what);
            Err(self.ctx.fail(IngestError::NotArrayOfObjects { detail }))
        })*
    };
}

impl<'de> Visitor<'de> for RowSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    not_an_object! {
        visit_bool: bool => "a boolean",
        visit_i64: i64 => "a number",
        visit_u64: u64 => "a number",
        visit_f64: f64 => "a number",
        visit_str: &str => "a string",
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        let detail = format!("element {} is null", self.row);
        Err(self.ctx.fail(IngestError::NotArrayOfObjects { detail }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        let detail = format!("element {} is an array", self.row);
        Err(self.ctx.fail(IngestError::NotArrayOfObjects { detail }))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let first = ctx.rows == 0;
        for v in &mut ctx.values {
            v.clear();
        }
        while let Some(key) = map.next_key_seed(KeySeed {
            ctx: &mut *ctx,
            first,
            row: self.row,
        })? {
            if key == ctx.values.len() {
                ctx.values.push(String::new());
            }
            let out = &mut ctx.values[key];
            out.clear();
            map.next_value_seed(CellSeed { out })?;
            if ctx.values[key].len() > ctx.limits.max_cell {
                let e = IngestError::CellTooLarge {
                    row: self.row,
                    column: ctx.columns[key].clone(),
                    limit: ctx.limits.max_cell as u64,
                };
                return Err(ctx.fail(e));
            }
        }
        if first {
            if ctx.columns.is_empty() {
                return Err(ctx.fail(IngestError::EmptyFile {
                    detail: "the first object has no keys".into(),
                }));
            }
            let names = crate::csv::check_header(&ctx.columns.iter().map(String::as_str).collect::<Vec<_>>());
            let result = names.and_then(|n| ctx.consumer.header(n));
            if let Err(e) = result {
                return Err(ctx.fail(e));
            }
        }
        let cells: Vec<&str> = ctx.values.iter().map(String::as_str).collect();
        if let Err(e) = ctx.consumer.row(&cells) {
            drop(cells);
            return Err(ctx.fail(e));
        }
        Ok(())
    }
}

/// A key: its column, new columns only while reading the first object.
struct KeySeed<'a, 'b> {
    ctx: &'a mut Ctx<'b>,
    first: bool,
    row: u64,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_> {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, '_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<usize, E> {
        if let Some(&i) = self.ctx.index.get(key) {
            return Ok(i);
        }
        if !self.first {
            let e = IngestError::NewKey {
                row: self.row,
                key: key.to_string(),
            };
            return Err(self.ctx.fail(e));
        }
        let i = self.ctx.columns.len();
        self.ctx.columns.push(key.to_string());
        self.ctx.index.insert(key.to_string(), i);
        Ok(i)
    }
}

/// A value as cell text: scalars as text, null as empty, objects and arrays as compact JSON.
struct CellSeed<'a> {
    out: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for CellSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CellSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        let _ = write!(self.out, "{v}");
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        let _ = write!(self.out, "{v}");
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        let _ = write!(self.out, "{v}");
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.out.push_str(v);
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let v: serde_json::Value = serde::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        let _ = write!(self.out, "{v}");
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let v: serde_json::Value = serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
        let _ = write!(self.out, "{v}");
        Ok(())
    }
}
