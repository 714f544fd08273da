#include "trends.h"

#include <algorithm>
#include <array>

#include "key_codec.h"
#include "seedbank/protocol/community_draft.h"
#include "seedbank/protocol/release.h"

namespace seedbank::indexer::trends {
namespace {

namespace sc = seedbank::schema;
using protocol::ByteView;

constexpr std::size_t kMaxValueBytes = 40;       // base model, tag, sampler
constexpr std::size_t kMaxTags = 16;             // of one release
constexpr std::size_t kMaxImagesPerRelease = 8;  // sample images whose prompts count
constexpr std::size_t kMaxPhraseWords = 4;       // a longer phrase counts as its words
constexpr std::uint32_t kMaxSteps = 150;

std::string_view text_view(capnp::Text::Reader t) { return {t.cStr(), t.size()}; }
ByteView data_view(capnp::Data::Reader d) { return {d.begin(), d.size()}; }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

// Cut to `max` bytes without splitting a UTF-8 sequence.
std::string cut(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}

// A value as counted: control bytes as spaces, runs of spaces as one,
// trimmed, cut to kMaxValueBytes.
std::string clean_value(std::string_view text, bool lower = false) {
  std::string out;
  for (char c : text) {
    bool space = static_cast<unsigned char>(c) < 0x20 || c == 0x7F || is_space(c);
    if (space) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += lower ? keys::fold(c) : c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  out = cut(std::move(out), kMaxValueBytes);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

constexpr std::array<std::string_view, 40> kCommonWords = {
    "a",     "an",   "the", "of",   "and",  "or",   "in",   "on",    "at",  "to", "is",   "are",   "was",  "with",
    "for",   "from", "by",  "as",   "it",   "its",  "her",  "his",   "she", "he", "they", "their", "this", "that",
    "there", "be",   "has", "have", "into", "over", "very", "while", "who", "up", "out",  "which"};

bool common_word(std::string_view w) {
  return std::find(kCommonWords.begin(), kCommonWords.end(), w) != kCommonWords.end();
}

// One phrase without emphasis brackets, a trailing ":weight" and extra
// spaces: "(Masterpiece:1.2)" -> "masterpiece".
std::string plain_phrase(std::string_view phrase) {
  std::string out;
  for (char c : phrase) {
    if (c == '(' || c == ')' || c == '[' || c == ']' || c == '{' || c == '}' || c == '\\') continue;
    out += keys::fold(c);
  }
  // ":1.2", ":0.8" at the end (what remains of "(x:1.2)").
  if (auto colon = out.rfind(':'); colon != std::string::npos) {
    std::string_view weight(out);
    weight.remove_prefix(colon + 1);
    while (!weight.empty() && is_space(weight.front())) weight.remove_prefix(1);
    while (!weight.empty() && is_space(weight.back())) weight.remove_suffix(1);
    bool number = !weight.empty() && std::all_of(weight.begin(), weight.end(),
                                                 [](char c) { return (c >= '0' && c <= '9') || c == '.' || c == '-'; });
    if (number) out.resize(colon);
  }
  std::string clean;
  for (char c : out) {
    if (is_space(c)) {
      if (!clean.empty() && clean.back() != ' ') clean += ' ';
    } else {
      clean += c;
    }
  }
  while (!clean.empty() && clean.back() == ' ') clean.pop_back();
  return clean;
}

// Whether a '<' opens an extra network: closed by a '>' before the next
// comma ("heart <3, smile" has none). Remembers how far no '<' closes, so
// a prompt of many '<' costs one pass.
class Networks {
 public:
  explicit Networks(std::string_view prompt) : prompt_(prompt) {}
  bool opens(std::size_t at) {
    if (at < unclosed_until_) return false;
    for (std::size_t i = at + 1; i < prompt_.size(); ++i) {
      if (prompt_[i] == '>') return true;
      if (prompt_[i] == ',') {
        unclosed_until_ = i;
        return false;
      }
    }
    unclosed_until_ = prompt_.size();
    return false;
  }

 private:
  std::string_view prompt_;
  std::size_t unclosed_until_ = 0;
};

bool has_letter(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80 || (c >= 'a' && c <= 'z'); });
}

// Adds `delta` to the counter `k`.
void add(Changes& changes, std::string&& k, std::int64_t delta) {
  if (delta != 0) changes[std::move(k)] += delta;
}

// The generation data of one image, counted under `base` in `week`.
void count_generation(Changes& changes, sc::GenerationParams::Reader g, std::string_view base, std::uint32_t week,
                      int sign) {
  auto prompt = text_view(g.getPrompt());
  if (!prompt.empty()) {
    std::string k = key(static_cast<char>(TrendSeries::prompt_terms), week, base);
    k += '\0';
    const std::size_t at = k.size();
    for (const auto& term : prompt_terms(prompt)) {
      k.resize(at);
      k += term;
      add(changes, std::string(k), sign);
      add(changes, key(static_cast<char>(TrendSeries::all_prompt_terms), week, term), sign);
    }
    add(changes, key(static_cast<char>(TrendSeries::prompts), week, base), sign);
    add(changes, key(static_cast<char>(TrendSeries::prompt_words), week, base),
        sign * static_cast<std::int64_t>(prompt_words(prompt)));
  }
  if (auto sampler = clean_value(text_view(g.getSampler())); !sampler.empty())
    add(changes, key(static_cast<char>(TrendSeries::samplers), week, sampler), sign);
  if (g.getSteps() > 0) {
    std::string steps = g.getSteps() > kMaxSteps ? "150+" : std::to_string(g.getSteps());
    add(changes, key(static_cast<char>(TrendSeries::steps), week, steps), sign);
  }
}

std::string type_name(sc::Release::Reader r) { return std::string(protocol::model_type_name(r.getType())); }

}  // namespace

std::string key(char series, std::uint32_t period, std::string_view value) {
  std::string k;
  k.reserve(5 + value.size());
  k += series;
  for (int i = 3; i >= 0; --i) k += static_cast<char>(period >> (8 * i));
  k += value;
  return k;
}

std::vector<std::string> prompt_terms(std::string_view prompt) {
  std::vector<std::string> terms;
  auto take = [&](std::string term) {
    if (term.size() < 2 || !has_letter(term) || terms.size() >= kMaxTermsPerPrompt) return;
    term = cut(std::move(term), kMaxTermBytes);
    if (std::find(terms.begin(), terms.end(), term) == terms.end()) terms.push_back(std::move(term));
  };
  std::string phrase;
  auto end_phrase = [&] {
    std::string plain = plain_phrase(phrase);
    phrase.clear();
    if (plain.empty() || plain == "break") return;
    std::size_t words = 1 + static_cast<std::size_t>(std::count(plain.begin(), plain.end(), ' '));
    if (words <= kMaxPhraseWords && plain.size() <= kMaxTermBytes) {
      // "a lighthouse" and "lighthouse" are one term.
      for (std::string_view article : {"a ", "an ", "the "})
        if (plain.starts_with(article) && plain.size() > article.size()) plain.erase(0, article.size());
      take(std::move(plain));
      return;
    }
    keys::each_word(plain, [&](std::string&& w) {
      if (!common_word(w)) take(std::move(w));
      return terms.size() < kMaxTermsPerPrompt;
    });
  };
  int angle = 0;  // inside <lora:...>
  Networks networks(prompt);
  for (std::size_t i = 0; i < prompt.size(); ++i) {
    const char c = prompt[i];
    if (terms.size() >= kMaxTermsPerPrompt) break;
    if (c == '<' && (angle > 0 || networks.opens(i))) {
      ++angle;
      continue;
    }
    if (c == '>' && angle > 0) {
      --angle;
      continue;
    }
    if (angle > 0) continue;
    // A full stop ends a sentence; "1.2" in a weight is no full stop.
    const bool full_stop = c == '.' && (i + 1 == prompt.size() || is_space(prompt[i + 1]));
    if (c == ',' || c == '|' || c == ';' || full_stop || static_cast<unsigned char>(c) < 0x20) {
      end_phrase();
      continue;
    }
    phrase += c;
  }
  end_phrase();
  return terms;
}

std::size_t prompt_words(std::string_view prompt) {
  // Without extra networks (<lora:x:0.8>) and numbers (weights).
  std::string text;
  int angle = 0;
  Networks networks(prompt);
  for (std::size_t i = 0; i < prompt.size(); ++i) {
    const char c = prompt[i];
    if (c == '<' && (angle > 0 || networks.opens(i))) ++angle;
    if (angle == 0) text += c;
    if (c == '>' && angle > 0) --angle;
  }
  std::size_t n = 0;
  keys::each_word(text, [&](std::string&& w) {
    if (!std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; })) ++n;
    return true;
  });
  return n;
}

void count_release(Changes& changes, const Record& release, int sign) {
  if (release.kind() != protocol::RecordKind::release) return;
  auto r = release.body().getPayload().getRelease();
  const std::uint32_t week = trend_week(release.created_at());
  const std::string base = clean_value(text_view(r.getBaseModel()));
  add(changes, key(static_cast<char>(TrendSeries::releases_by_type), week, type_name(r)), sign);
  add(changes, key(static_cast<char>(TrendSeries::releases_by_base), week, base), sign);
  std::vector<std::string> tags;
  for (auto tag : r.getTags()) {
    if (tags.size() >= kMaxTags) break;
    auto t = clean_value(text_view(tag), true);
    if (!t.empty() && std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(std::move(t));
  }
  for (const auto& t : tags) add(changes, key(static_cast<char>(TrendSeries::release_tags), week, t), sign);
  std::size_t images = 0;
  for (auto image : r.getImages()) {
    if (images++ >= kMaxImagesPerRelease) break;
    count_generation(changes, image.getGeneration(), base, week, sign);
  }
}

void count_post(Changes& changes, const Record& post, const Record* release, int sign) {
  if (post.kind() != protocol::RecordKind::image_post) return;
  const std::uint32_t week = trend_week(post.created_at());
  std::string type, base;
  if (release && release->kind() == protocol::RecordKind::release) {
    auto r = release->body().getPayload().getRelease();
    type = type_name(r);
    base = clean_value(text_view(r.getBaseModel()));
  }
  add(changes, key(static_cast<char>(TrendSeries::posts_by_type), week, type), sign);
  add(changes, key(static_cast<char>(TrendSeries::posts_by_base), week, base), sign);
  count_generation(changes, post.body().getPayload().getImagePost().getImage().getGeneration(), base, week, sign);
}

void count_reaction(Changes& changes, const Record& reaction, int sign) {
  if (reaction.kind() != protocol::RecordKind::reaction) return;
  auto r = reaction.body().getPayload().getReaction();
  if (r.getKind() != sc::ReactionKind::LIKE && r.getKind() != sc::ReactionKind::HEART &&
      r.getKind() != sc::ReactionKind::LAUGH && r.getKind() != sc::ReactionKind::CRY)
    return;  // a withdrawal, or a kind from a newer schema
  auto release = data_view(r.getSubject().getRelease());
  if (release.size() != 32) return;
  std::string value(release.begin(), release.end());
  add(changes, key(static_cast<char>(TrendSeries::reactions), trend_day(reaction.created_at()), value), sign);
}

void count_rating(Changes& changes, const Record& rating, int sign) {
  if (rating.kind() != protocol::RecordKind::rating) return;
  auto release = data_view(rating.body().getPayload().getRating().getRelease());
  if (release.size() != 32) return;
  std::string value(release.begin(), release.end());
  add(changes, key(static_cast<char>(TrendSeries::ratings), trend_day(rating.created_at()), value), sign);
}

}  // namespace seedbank::indexer::trends
