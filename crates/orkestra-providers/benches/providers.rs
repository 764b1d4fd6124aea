//! Micro-benches of the providers' hot paths: reading an `OpenAI` response body and one
//! stream chunk. Each group carries a same-run baseline: `serde_json` reading the same bytes
//! into an untyped `Value`, the least work any typed reader must do.

// A bench is a binary whose inputs are fixed: a failed parse must stop it loudly.
#![expect(
    missing_docs,
    clippy::unwrap_used,
    reason = "a bench is a binary whose inputs are fixed: a failed parse must stop it loudly"
)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use orkestra_core::ChatResponse;
use orkestra_providers::SseDecoder;
use orkestra_providers::openai::{chunk_events, parse_response};
use serde_json::Value;
use std::hint::black_box;

/// The API reference's chat completion with a longer answer: about 1 KB, as the bar says.
fn response_1kb() -> Vec<u8> {
    let content = "Paris is the capital and most populous city of France. ".repeat(9);
    let body = format!(
        r#"{{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4o-2024-08-06","choices":[{{"index":0,"message":{{"role":"assistant","content":"{content}","refusal":null,"annotations":[]}},"logprobs":null,"finish_reason":"stop"}}],"usage":{{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{{"cached_tokens":0,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}},"service_tier":"default","system_fingerprint":"fp_fc9f1d7035"}}"#
    );
    body.into_bytes()
}

/// One content chunk of a stream, as it arrives on the wire.
const CHUNK: &[u8] = b"data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n";

fn response(c: &mut Criterion) {
    let body = response_1kb();
    let mut group = c.benchmark_group("openai_response");
    group.throughput(Throughput::Bytes(body.len() as u64));
    let size = body.len();
    group.bench_with_input(
        BenchmarkId::new("baseline_value", size),
        &body,
        |b, body| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(body)).unwrap());
        },
    );
    group.bench_with_input(BenchmarkId::new("core_serde", size), &body, |b, body| {
        b.iter(|| serde_json::from_slice::<ChatResponse>(black_box(body)).unwrap());
    });
    group.bench_with_input(
        BenchmarkId::new("parse_response", size),
        &body,
        |b, body| {
            b.iter(|| parse_response(black_box(body)).unwrap());
        },
    );
    group.finish();
}

fn chunk(c: &mut Criterion) {
    let data = &CHUNK[b"data: ".len()..CHUNK.len() - 2];
    let mut group = c.benchmark_group("sse_chunk");
    group.throughput(Throughput::Bytes(CHUNK.len() as u64));
    group.bench_function("baseline_value", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(data)).unwrap());
    });
    group.bench_function("core_serde", |b| {
        b.iter(|| serde_json::from_slice::<orkestra_core::ChatChunk>(black_box(data)).unwrap());
    });
    // The whole path of one network chunk: SSE decoding, JSON, and events.
    let mut decoder = SseDecoder::new();
    group.bench_function("decode_parse_events", |b| {
        b.iter(|| {
            decoder.push(black_box(CHUNK));
            let event = decoder.next_event().unwrap().unwrap();
            black_box(chunk_events(event.data.as_bytes(), false).unwrap())
        });
    });
    group.finish();
}

criterion_group!(benches, response, chunk);
criterion_main!(benches);
