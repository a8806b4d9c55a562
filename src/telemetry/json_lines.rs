//! The log format: one JSON object per line, written straight to the output.
//!
//! tracing-subscriber's own JSON format keeps a span's fields as a JSON string and parses that
//! string back into a map for every event written inside the span; every request's access-log
//! line paid for it. This format keeps a span's fields as ready-made `,"key":value` pairs and
//! copies them into each line. The output has the same fields as before:
//!
//! ```json
//! {"timestamp":"…","level":"INFO","message":"request finished","status":200,"latency_ms":1.2,
//!  "target":"bookstore::http::middleware::envelope",
//!  "span":{"request_id":"…","method":"GET","route":"/books/{author}/{title}","name":"request"}}
//! ```
//!
//! When traces are on, a line written inside a request also has its `"trace_id"` (32 hex digits)
//! before `"span"`.
//!
//! Why not tracing-subscriber's `json()` formatter: it cannot write the `trace_id`, which lives in
//! the OpenTelemetry context, not in a span field, at the top level of every line as the log
//! contract has it; and measured against it (`bench/compare.sh`, BENCHMARKS.md, "Crates before
//! hand-built parts"), this format cost 0.89× its CPU per GET and 1.01× per author page, inside
//! that run's round-to-round spread, so CPU alone would not have kept it.

use std::fmt::{self, Write as _};

use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
    span,
};
use tracing_subscriber::{
    field::RecordFields,
    fmt::{
        FmtContext, FormatEvent, FormatFields, FormattedFields,
        format::Writer,
        time::{FormatTime, SystemTime},
    },
    registry::LookupSpan,
};

/// Formats each event as one JSON line: timestamp, level, the event's fields, target, and the
/// fields and name of the span it happened in.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct JsonLines;

/// Formats a span's fields as `,"key":value` pairs, the form [`JsonLines`] copies into each line.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct JsonPairs;

impl<'writer> FormatFields<'writer> for JsonPairs {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut pairs = PairWriter::new(&mut writer);
        fields.record(&mut pairs);
        pairs.result
    }

    /// Fields recorded later are appended. A field recorded twice then appears twice; the last
    /// one is the current value, as JSON parsers that accept duplicates read it.
    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &span::Record<'_>,
    ) -> fmt::Result {
        self.format_fields(current.as_writer(), fields)
    }
}

impl<S> FormatEvent<S, JsonPairs> for JsonLines
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonPairs>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut writer)?;
        write!(writer, "\",\"level\":\"{}\"", meta.level())?;
        let mut pairs = PairWriter::new(&mut writer);
        event.record(&mut pairs);
        pairs.result?;
        writer.write_str(",\"target\":")?;
        write_json_str(&mut writer, meta.target())?;
        let span = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        if let Some(span) = &span
            && super::otel::enabled()
            && let Some(trace_id) = super::otel::trace_id_in_scope(span)
        {
            write!(writer, ",\"trace_id\":\"{trace_id}\"")?;
        }
        if let Some(span) = span {
            writer.write_str(",\"span\":{")?;
            if let Some(fields) = span.extensions().get::<FormattedFields<JsonPairs>>() {
                // Each pair starts with a comma; the first one's is not wanted after `{`.
                if let Some(pairs) = fields.fields.strip_prefix(',') {
                    writer.write_str(pairs)?;
                    writer.write_char(',')?;
                }
            }
            writer.write_str("\"name\":")?;
            write_json_str(&mut writer, span.name())?;
            writer.write_char('}')?;
        }
        writer.write_str("}\n")
    }
}

/// Writes each field it visits as `,"key":value`.
struct PairWriter<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl<'a, 'w> PairWriter<'a, 'w> {
    fn new(writer: &'a mut Writer<'w>) -> Self {
        Self {
            writer,
            result: Ok(()),
        }
    }

    fn pair(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'w>) -> fmt::Result) {
        // `otel.name` and `otel.kind` are for the OpenTelemetry layer, not for the logs.
        if self.result.is_ok() && !field.name().starts_with("otel.") {
            self.result =
                write!(self.writer, ",\"{}\":", field.name()).and_then(|()| value(self.writer));
        }
    }
}

impl Visit for PairWriter<'_, '_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity; serde_json writes those as null too.
        if value.is_finite() {
            self.pair(field, |w| write!(w, "{value}"));
        } else {
            self.pair(field, |w| w.write_str("null"));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.pair(field, |w| write!(w, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.pair(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.pair(field, |w| write!(w, "{value}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.pair(field, |w| write_json_str(w, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.pair(field, |w| {
            w.write_char('"')?;
            write!(JsonEscaped(&mut *w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

/// Writes `value` as a JSON string, quotes included.
fn write_json_str(writer: &mut impl fmt::Write, value: &str) -> fmt::Result {
    writer.write_char('"')?;
    JsonEscaped(&mut *writer).write_str(value)?;
    writer.write_char('"')
}

/// A writer that escapes what passes through it for the inside of a JSON string (RFC 8259 §7).
struct JsonEscaped<W>(W);

impl<W: fmt::Write> fmt::Write for JsonEscaped<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(at) = rest.find(|c: char| c == '"' || c == '\\' || c < ' ') {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().expect("found at this index");
            match c {
                '"' => self.0.write_str("\\\"")?,
                '\\' => self.0.write_str("\\\\")?,
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                _ => write!(self.0, "\\u{:04x}", u32::from(c))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io,
        sync::{Arc, Mutex},
    };

    use serde_json::{Value, json};
    use tracing_subscriber::prelude::*;

    use super::*;

    /// The lines a closure logs, each parsed as JSON.
    fn logged(body: impl FnOnce()) -> Vec<Value> {
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .fmt_fields(JsonPairs)
            .event_format(JsonLines)
            .with_writer(move || writer.clone());
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), body);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    #[test]
    fn an_event_in_a_span_carries_its_fields_and_the_spans() {
        let lines = logged(|| {
            let span = tracing::info_span!("request", request_id = "r-1", method = "GET");
            tracing::info!(parent: &span, status = 200u16, latency_ms = 1.5, ok = true, "request finished");
        });
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "request finished");
        assert_eq!(line["status"], 200);
        assert_eq!(line["latency_ms"], 1.5);
        assert_eq!(line["ok"], true);
        assert_eq!(line["target"], module_path!());
        assert_eq!(
            line["span"],
            json!({"request_id": "r-1", "method": "GET", "name": "request"})
        );
        let timestamp = line["timestamp"].as_str().unwrap();
        assert!(
            time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
                .is_ok(),
            "{timestamp}"
        );
    }

    #[test]
    fn strings_are_escaped_and_odd_numbers_are_null() {
        let awkward = "quote \" backslash \\ newline \n tab \t bell \u{7} é 📚";
        let lines = logged(|| {
            let error = io::Error::other("disk \"full\"");
            tracing::warn!(text = awkward, debug = ?awkward, error = %error, nan = f64::NAN, big = u64::MAX, small = i64::MIN, "{awkward}");
        });
        let line = &lines[0];
        assert_eq!(line["text"], awkward);
        assert_eq!(line["debug"], format!("{awkward:?}"));
        assert_eq!(line["error"], "disk \"full\"");
        assert_eq!(line["message"], awkward);
        assert_eq!(line["nan"], Value::Null);
        assert_eq!(line["big"], u64::MAX);
        assert_eq!(line["small"], i64::MIN);
        assert!(line.get("span").is_none(), "no span: {line}");
    }

    #[test]
    fn a_span_without_fields_and_fields_recorded_later() {
        let lines = logged(|| {
            let bare = tracing::info_span!("bare");
            tracing::info!(parent: &bare, "in bare");
            let later = tracing::info_span!("later", id = tracing::field::Empty, kept = 1);
            later.record("id", "x");
            later.in_scope(|| tracing::info!("in later"));
        });
        assert_eq!(lines[0]["span"], json!({"name": "bare"}));
        assert_eq!(
            lines[1]["span"],
            json!({"kept": 1, "id": "x", "name": "later"})
        );
    }
}
