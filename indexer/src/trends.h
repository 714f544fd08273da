// What each record adds to the `trends` counters (Index::trend). Private
// to indexer/; docs/architecture.md lists the keys.
//
// A key is series (one byte, TrendSeries) ++ period u32be ++ value. The
// period is a week since 1970 (weeks start on Monday) or, for reactions and
// ratings, a day. Counting is a pure function of the records, so the
// index adds a record's counts when it arrives and takes them away when
// the record stops counting (a retraction, a newer reaction), in any order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "seedbank/indexer/index.h"
#include "seedbank/protocol/record.h"

namespace seedbank::indexer::trends {

using protocol::Bytes;
using protocol::Record;

// Counter key -> change, summed over a write transaction and written once,
// in key order, before it commits (a prompt term repeats across many
// records).
using Changes = std::unordered_map<std::string, std::int64_t>;

std::string key(char series, std::uint32_t period, std::string_view value);

// The version of the rules below. What a record adds must be what it takes
// away, so an index counted by other rules is counted afresh when opened
// (meta `trends`).
constexpr std::string_view kRules = "1";

// A release's own counts: by type, base model and tag, and the prompts of
// its sample images (terms, length, sampler, steps) under its base model.
void count_release(Changes& changes, const Record& release, int sign);
// An image post's counts, under its release's type and base model when
// `release` is given (stored), else under "" (not known here).
void count_post(Changes& changes, const Record& post, const Record* release, int sign);
// A current reaction (not a withdrawal) or rating, on its day, under the
// release it is about.
void count_reaction(Changes& changes, const Record& reaction, int sign);
void count_rating(Changes& changes, const Record& rating, int sign);

// The terms of a prompt, as TrendSeries::prompt_terms counts them: its
// comma-separated phrases of up to four words without A1111's emphasis
// and weights ("(masterpiece:1.2)" is "masterpiece"), extra networks
// ("<lora:x:0.8>", a "<" closed before the next comma) or a leading
// "a", "an" or "the", ASCII-lowercased; a longer phrase (a sentence)
// counts as its words, common English words left out. At most
// kMaxTermsPerPrompt, each once, in order.
constexpr std::size_t kMaxTermsPerPrompt = 16;
constexpr std::size_t kMaxTermBytes = 48;
std::vector<std::string> prompt_terms(std::string_view prompt);
// Words of a prompt, as its length is counted: without extra networks
// (<lora:…>) and numbers (weights).
std::size_t prompt_words(std::string_view prompt);

}  // namespace seedbank::indexer::trends
