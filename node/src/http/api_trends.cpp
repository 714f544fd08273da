// GET /api/seedbank/trends: what is rising on the network, from the
// counters the index keeps as records arrive (Index::trend), for the
// gallery's /trends page; ?format=csv gives the same numbers as CSV.
// Releases are on every node, so their figures are the network's; image
// posts, reactions and ratings are those this node holds ("scope").
// An answer is kept for kTrendsFresh while records arrive, and until one
// does otherwise: a request costs a counter scan at most that often.
#include "http/api_impl.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <unordered_map>

namespace seedbank::node {

namespace {

constexpr std::uint32_t kDefaultWeeks = 12;
constexpr std::uint32_t kMaxWeeks = 104;
constexpr std::uint32_t kGrowthWeeks = 4;  // growth: the last 4 complete weeks against the 4 before
constexpr std::size_t kTopNames = 12;      // types, base models, samplers listed by name
constexpr std::size_t kTopTags = 20;
constexpr std::size_t kTopTerms = 30;
constexpr std::size_t kTopSteps = 15;
constexpr std::size_t kRisingModels = 10;
constexpr std::size_t kRisingCandidates = 500;   // versions per window looked up as rising models
constexpr std::size_t kMaxNames = 200000;        // distinct names one series of an answer ranks
constexpr std::size_t kMaxBaseModels = 50;       // listed as having prompts
constexpr std::uint64_t kMinRising = 3;          // uses in the last 4 weeks for a rising term
constexpr std::size_t kMaxRisingLookups = 5000;  // releases read to find the rising models
constexpr std::size_t kMaxCached = 16;

std::string week_label(std::uint32_t week) {
  const auto day = indexer::trend_week_first_day(week);
  return iso8601(static_cast<std::uint64_t>(std::max<std::int64_t>(day, 0)) * indexer::kTrendDayMs).substr(0, 10);
}

// Growth of `recent` over `before`: null when there was nothing before.
json growth(std::uint64_t recent, std::uint64_t before) {
  if (before == 0) return nullptr;
  return std::round((static_cast<double>(recent) / static_cast<double>(before) - 1.0) * 1000.0) / 1000.0;
}

struct Series {
  std::string name;
  std::vector<std::uint64_t> counts;  // per listed week
  std::uint64_t total = 0;            // over the listed weeks
  std::uint64_t recent = 0, before = 0;
};

// One series of counters over the listed weeks: the names used most and
// (when asked) those rising fastest, each with its counts per week, and
// what every name adds up to.
struct Weekly {
  std::vector<Series> top, rising;
  std::vector<std::uint64_t> totals;  // per listed week, every name
  std::uint64_t sum = 0;              // over the listed weeks, every name
  bool cut = false;                   // more than kMaxNames names: the later ones were not ranked
};

// Growth windows: the last kGrowthWeeks complete weeks (the current one is
// not over) against the kGrowthWeeks before them.
bool in_recent(std::uint32_t period, std::uint32_t last) { return period < last && last - period <= kGrowthWeeks; }
bool in_before(std::uint32_t period, std::uint32_t last) {
  return period < last && last - period > kGrowthWeeks && last - period <= 2 * kGrowthWeeks;
}

// Counters of `series` (values starting with `prefix`, which is cut off)
// over `weeks` weeks ending with `last`. Two passes, so memory holds one
// total per name and per-week counts for the chosen names only.
Weekly weekly(const indexer::Index& index, indexer::TrendSeries series, std::uint32_t last, std::uint32_t weeks,
              std::size_t top, std::size_t rising = 0, std::string_view prefix = {}) {
  struct Tally {
    std::uint64_t total = 0, recent = 0, before = 0;
  };
  const std::uint32_t span = std::max(weeks, 2 * kGrowthWeeks + 1);
  const std::uint32_t from = last + 1 >= span ? last + 1 - span : 0;
  const std::uint32_t first = last + 1 >= weeks ? last + 1 - weeks : 0;
  Weekly out;
  out.totals.assign(weeks, 0);
  std::unordered_map<std::string, Tally> tally;
  std::string name;  // reused: no allocation per counter
  auto count_one = [&](std::uint32_t period, std::string_view value, std::uint64_t count) {
    const bool listed = period >= first;
    if (listed) {
      out.totals[period - first] += count;
      out.sum += count;
    }
    name.assign(value.substr(prefix.size()));
    auto it = tally.find(name);
    if (it == tally.end()) {
      if (tally.size() >= kMaxNames) {
        out.cut = true;
        return true;
      }
      it = tally.emplace(name, Tally{}).first;
    }
    if (listed) it->second.total += count;
    if (in_recent(period, last)) it->second.recent += count;
    if (in_before(period, last)) it->second.before += count;
    return true;
  };
  // The growth windows and the current week first: when there are more
  // names than kMaxNames, old ones are left out, not those rising now.
  const std::uint32_t recent_from = std::max(from, last >= 2 * kGrowthWeeks ? last - 2 * kGrowthWeeks : 0);
  index.each_trend(series, recent_from, last, prefix, count_one);
  if (recent_from > from) index.each_trend(series, from, recent_from - 1, prefix, count_one);
  // The chosen names, then their counts per week.
  std::vector<std::pair<const std::string*, const Tally*>> all;
  all.reserve(tally.size());
  for (const auto& [n, t] : tally)
    if (t.total || t.recent) all.emplace_back(&n, &t);
  auto pick = [&](std::size_t k, auto better, auto keep) {
    std::vector<std::pair<const std::string*, const Tally*>> chosen;
    for (const auto& e : all)
      if (keep(*e.second)) chosen.push_back(e);
    const std::size_t n = std::min(k, chosen.size());
    std::partial_sort(chosen.begin(), chosen.begin() + static_cast<std::ptrdiff_t>(n), chosen.end(), better);
    chosen.resize(n);
    std::vector<Series> series_out;
    for (const auto& [n_, t] : chosen)
      series_out.push_back(Series{*n_, std::vector<std::uint64_t>(weeks, 0), t->total, t->recent, t->before});
    return series_out;
  };
  out.top = pick(
      top,
      [](const auto& a, const auto& b) {
        return std::tie(b.second->total, *a.first) < std::tie(a.second->total, *b.first);
      },
      [](const Tally& t) { return t.total > 0; });
  if (rising)
    out.rising = pick(
        rising,
        [](const auto& a, const auto& b) {
          const double ga = static_cast<double>(a.second->recent) / static_cast<double>(a.second->before + 1);
          const double gb = static_cast<double>(b.second->recent) / static_cast<double>(b.second->before + 1);
          return std::tie(gb, b.second->recent, *a.first) < std::tie(ga, a.second->recent, *b.first);
        },
        [](const Tally& t) { return t.recent >= kMinRising && t.recent > t.before; });
  std::unordered_map<std::string, std::vector<std::uint64_t*>> wanted;
  for (auto* list : {&out.top, &out.rising})
    for (auto& s : *list) wanted[s.name].push_back(s.counts.data());
  if (!wanted.empty() && first <= last)
    index.each_trend(series, first, last, prefix,
                     [&](std::uint32_t period, std::string_view value, std::uint64_t count) {
                       name.assign(value.substr(prefix.size()));
                       if (auto it = wanted.find(name); it != wanted.end())
                         for (auto* counts : it->second) counts[period - first] += count;
                       return true;
                     });
  // Totals as the weeks listed add up (the second scan may have seen a
  // record the first did not).
  for (auto* list : {&out.top, &out.rising})
    for (auto& s : *list) s.total = std::accumulate(s.counts.begin(), s.counts.end(), std::uint64_t{0});
  return out;
}

// Per-week counts of exactly `name` (a prefix scan would take "SDXL 1.0
// Turbo" for "SDXL 1.0").
std::vector<std::uint64_t> exactly(const indexer::Index& index, indexer::TrendSeries series, std::uint32_t last,
                                   std::uint32_t weeks, const std::string& name) {
  std::vector<std::uint64_t> out(weeks, 0);
  const std::uint32_t first = last + 1 >= weeks ? last + 1 - weeks : 0;
  index.each_trend(series, first, last, name, [&](std::uint32_t period, std::string_view value, std::uint64_t count) {
    if (value.size() == name.size()) out[period - first] += count;
    return true;
  });
  return out;
}

json series_json(const Weekly& w, const char* name_key = "name") {
  json out = json::array();
  for (const auto& s : w.top)
    out.push_back(
        {{name_key, s.name},
         {"counts", s.counts},
         {"total", s.total},
         {"share",
          w.sum ? std::round(static_cast<double>(s.total) / static_cast<double>(w.sum) * 1000.0) / 1000.0 : 0.0},
         {"recent", s.recent},
         {"before", s.before},
         {"growth", growth(s.recent, s.before)}});
  return out;
}

// A CSV field: quoted when needed, and never read as a formula by a
// spreadsheet (peers write these names).
std::string csv_field(std::string_view v) {
  std::string s(v);
  if (!s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r'))
    s.insert(s.begin(), '\'');
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

}  // namespace

HttpResponse Api::Impl::trends(const HttpRequest& /*request*/, const HttpTarget& t) {
  std::uint32_t weeks = kDefaultWeeks;
  if (auto w = t.get("weeks")) {
    auto n = parse_number(*w);
    if (!n || *n < 1 || *n > kMaxWeeks)
      return error_response(
          400, "weeks must be a number from 1 to " + std::to_string(kMaxWeeks) + ", not '" + w->substr(0, 40) + "'");
    weeks = static_cast<std::uint32_t>(*n);
  }
  std::string base = t.get("baseModel").value_or("");
  if (base.size() > 100) return error_response(400, "baseModel is at most 100 bytes");
  if (base.find('\0') != std::string::npos) return error_response(400, "baseModel holds a NUL byte");
  const std::string format = t.get("format").value_or("json");
  if (format != "json" && format != "csv")
    return error_response(400, "format is json or csv, not '" + format.substr(0, 20) + "'");
  if (!base.empty()) {
    // Only a base model with prompts is counted (and cached): any other
    // name would cost a count each.
    const std::uint32_t now_week = indexer::trend_week(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count()));
    const auto seen = exactly(index, indexer::TrendSeries::prompts, now_week, kMaxWeeks, base);
    if (std::all_of(seen.begin(), seen.end(), [](std::uint64_t n) { return n == 0; }))
      return error_response(404, "no image of base model '" + base + "' with a prompt in the last " +
                                     std::to_string(kMaxWeeks) +
                                     " weeks on this node; prompts.baseModels lists those with some");
  }

  // A recent answer to the same question, while nothing arrived since or
  // for kTrendsFresh at most. One answer is counted at a time: requests
  // that miss wait, then most find it made.
  const std::string cache_key = std::to_string(weeks) + '\0' + base + '\0' + format;
  auto cached = [&]() -> std::optional<HttpResponse> {
    const auto records = index.stats().records;
    std::lock_guard lock(trends_mutex);
    auto it = trends_cache.find(cache_key);
    if (it == trends_cache.end()) return std::nullopt;
    const bool same = it->second.records == records;
    if (std::chrono::steady_clock::now() - it->second.at >= (same ? kTrendsUnchanged : kTrendsFresh))
      return std::nullopt;
    return it->second.response;
  };
  if (auto r = cached()) return *r;
  std::lock_guard counting(trends_count_mutex);
  if (auto r = cached()) return *r;
  const auto records = index.stats().records;
  const auto now = std::chrono::steady_clock::now();

  const std::uint64_t now_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  const std::uint32_t last = indexer::trend_week(now_ms);
  using TS = indexer::TrendSeries;
  std::vector<std::string> labels;
  for (std::uint32_t i = 0; i < weeks; ++i) labels.push_back(week_label(last + 1 - weeks + i));

  const auto rel_type = weekly(index, TS::releases_by_type, last, weeks, kTopNames);
  const auto rel_base = weekly(index, TS::releases_by_base, last, weeks, kTopNames);
  const auto post_type = weekly(index, TS::posts_by_type, last, weeks, kTopNames);
  const auto post_base = weekly(index, TS::posts_by_base, last, weeks, kTopNames);
  const auto tags = weekly(index, TS::release_tags, last, weeks, kTopTags);
  const auto samplers = weekly(index, TS::samplers, last, weeks, kTopNames);
  const auto steps = weekly(index, TS::steps, last, weeks, kTopSteps);
  const auto bases = weekly(index, TS::prompts, last, weeks, kMaxBaseModels);
  // Terms: of one base model (its prefix), or of all (their own series).
  const auto terms = base.empty() ? weekly(index, TS::all_prompt_terms, last, weeks, kTopTerms, kTopTerms)
                                  : weekly(index, TS::prompt_terms, last, weeks, kTopTerms, kTopTerms, base + '\0');
  // Prompts and their words, of the base model or of all.
  std::vector<std::uint64_t> prompt_count =
      base.empty() ? bases.totals : exactly(index, TS::prompts, last, weeks, base);
  std::vector<std::uint64_t> word_count = base.empty() ? weekly(index, TS::prompt_words, last, weeks, 0).totals
                                                       : exactly(index, TS::prompt_words, last, weeks, base);
  json average = json::array();
  for (std::uint32_t i = 0; i < weeks; ++i)
    average.push_back(
        prompt_count[i]
            ? json(std::round(static_cast<double>(word_count[i]) / static_cast<double>(prompt_count[i]) * 10.0) / 10.0)
            : json(nullptr));
  json rising_terms = json::array();
  for (const auto& s : terms.rising)
    rising_terms.push_back(
        {{"term", s.name}, {"recent", s.recent}, {"before", s.before}, {"growth", growth(s.recent, s.before)}});
  std::vector<std::string> base_models;
  for (const auto& s : bases.top)
    if (!s.name.empty()) base_models.push_back(s.name);

  // Rising models: current reactions and ratings made in the last 7 (30)
  // days against the 7 (30) before, summed over a model's versions this
  // node lists.
  const std::uint32_t today = indexer::trend_day(now_ms);
  struct Activity {
    std::uint64_t reactions[4] = {};  // last 7 days, the 7 before, last 30, the 30 before
    std::uint64_t ratings[4] = {};
  };
  std::unordered_map<std::string, Activity> by_release;
  auto count_days = [&](TS series, bool reactions) {
    std::string release;
    index.each_trend(series, today >= 59 ? today - 59 : 0, today, {},
                     [&](std::uint32_t period, std::string_view value, std::uint64_t count) {
                       release.assign(value);
                       auto it = by_release.find(release);
                       if (it == by_release.end()) {
                         if (by_release.size() >= kMaxNames) return true;
                         it = by_release.emplace(release, Activity{}).first;
                       }
                       const std::uint32_t age = today - period;
                       auto* to = reactions ? it->second.reactions : it->second.ratings;
                       if (age < 7) to[0] += count;
                       if (age >= 7 && age < 14) to[1] += count;
                       if (age < 30) to[2] += count;
                       if (age >= 30) to[3] += count;
                       return true;
                     });
  };
  count_days(TS::reactions, true);
  count_days(TS::ratings, false);
  // The versions that rose most in either window, each read once: those of
  // releases this node does not hold or list are passed over, so reactions
  // on made-up ids cannot crowd out real ones (within kMaxRisingLookups).
  struct ModelActivity {
    indexer::ModelKey key{};
    p::RecordId head{};  // the newest of its versions that rose (named in the answer)
    std::uint64_t head_t = 0;
    std::vector<p::RecordId> rose;  // its versions that rose, all listed
    Activity a;
  };
  std::set<p::RecordId> listed, refused;  // versions read, and what was found
  std::map<std::uint64_t, ModelActivity> by_model;
  std::set<const std::string*> looked_up;
  std::size_t lookups = 0;
  for (int window : {0, 2}) {
    std::vector<std::pair<std::int64_t, const std::string*>> candidates;
    for (const auto& [value, a] : by_release) {
      auto recent = static_cast<std::int64_t>(a.reactions[window] + a.ratings[window]);
      auto before = static_cast<std::int64_t>(a.reactions[window + 1] + a.ratings[window + 1]);
      if (recent > before) candidates.emplace_back(recent - before, &value);
    }
    std::sort(candidates.begin(), candidates.end(),
              [](const auto& a, const auto& b) { return std::tie(b.first, *a.second) < std::tie(a.first, *b.second); });
    std::size_t valid = 0;
    for (const auto& [score, value] : candidates) {
      if (valid >= kRisingCandidates || lookups >= kMaxRisingLookups) break;
      if (!looked_up.insert(value).second || value->size() != 32) continue;
      ++lookups;
      p::RecordId id{};
      std::copy(value->begin(), value->end(), id.begin());
      auto rec = index.get(id);
      if (!rec || rec->kind() != p::RecordKind::release || config.refuses(*rec, index)) {
        refused.insert(id);
        continue;
      }
      ++valid;
      listed.insert(id);
      auto r = rec->body().getPayload().getRelease();
      auto& m = by_model[civitai_model_id(rec->author(), r.getModelSlug().cStr())];
      m.key = indexer::model_key(rec->author(), r.getModelSlug().cStr());
      m.rose.push_back(id);
      if (m.head_t <= rec->created_at()) {
        m.head = rec->id();
        m.head_t = rec->created_at();
      }
    }
  }
  // A model's figures sum its listed versions, those that fell too: the
  // ones that rose, and its 100 newest (Index::model).
  for (auto& [number, m] : by_model) {
    std::set<p::RecordId> versions(m.rose.begin(), m.rose.end());
    if (auto info = index.model(m.key)) versions.insert(info->versions.begin(), info->versions.end());
    for (const auto& v : versions) {
      auto it = by_release.find(std::string(v.begin(), v.end()));
      if (it == by_release.end() || refused.count(v)) continue;
      if (!listed.count(v)) {
        if (lookups >= kMaxRisingLookups) continue;
        ++lookups;
        auto rec = index.get(v);
        if (!rec || rec->kind() != p::RecordKind::release || config.refuses(*rec, index)) {
          refused.insert(v);
          continue;
        }
        listed.insert(v);
      }
      for (int i = 0; i < 4; ++i) {
        m.a.reactions[i] += it->second.reactions[i];
        m.a.ratings[i] += it->second.ratings[i];
      }
    }
  }
  auto rising_models = [&](int window) {
    std::vector<std::pair<std::int64_t, std::uint64_t>> ranked;  // score, model
    for (const auto& [model, m] : by_model) {
      auto recent = static_cast<std::int64_t>(m.a.reactions[window] + m.a.ratings[window]);
      auto before = static_cast<std::int64_t>(m.a.reactions[window + 1] + m.a.ratings[window + 1]);
      if (recent > before) ranked.emplace_back(recent - before, model);
    }
    std::sort(ranked.begin(), ranked.end(),
              [](const auto& a, const auto& b) { return std::tie(b.first, a.second) < std::tie(a.first, b.second); });
    json out = json::array();
    for (std::size_t i = 0; i < ranked.size() && out.size() < kRisingModels; ++i) {
      const auto& m = by_model.at(ranked[i].second);
      auto head = index.get(m.head);
      if (!head) continue;
      const p::Record shown = index.shown(*head);
      auto r = shown.body().getPayload().getRelease();
      out.push_back({{"modelId", ranked[i].second},
                     {"modelVersionId", civitai_id(m.head)},
                     {"name", r.getModelName().cStr()},
                     {"type", std::string(p::model_type_name(r.getType()))},
                     {"baseModel", r.getBaseModel().cStr()},
                     {"reactions", m.a.reactions[window]},
                     {"reactionsBefore", m.a.reactions[window + 1]},
                     {"ratings", m.a.ratings[window]},
                     {"ratingsBefore", m.a.ratings[window + 1]},
                     {"seeders", node ? node->seeder_count(digest_of(r.getTorrent().getInfoHashV2())) : 0}});
    }
    return out;
  };
  const bool cut = rel_type.cut || rel_base.cut || post_type.cut || post_base.cut || tags.cut || samplers.cut ||
                   steps.cut || bases.cut || terms.cut || by_release.size() >= kMaxNames;

  HttpResponse response;
  if (format == "csv") {
    std::string csv = "series,week,name,count\n";
    auto rows = [&](const char* what, const std::vector<Series>& all) {
      for (const auto& s : all)
        for (std::uint32_t w = 0; w < weeks; ++w)
          if (s.counts[w])
            csv += std::string(what) + "," + labels[w] + "," + csv_field(s.name) + "," + std::to_string(s.counts[w]) +
                   "\n";
    };
    auto week_rows = [&](const char* what, const std::vector<std::uint64_t>& counts, const std::string& name) {
      for (std::uint32_t w = 0; w < weeks; ++w)
        if (counts[w])
          csv += std::string(what) + "," + labels[w] + "," + csv_field(name) + "," + std::to_string(counts[w]) + "\n";
    };
    week_rows("releases", rel_type.totals, "");
    rows("releases by type", rel_type.top);
    rows("releases by base model", rel_base.top);
    week_rows("image posts", post_type.totals, "");
    rows("image posts by type", post_type.top);
    rows("image posts by base model", post_base.top);
    rows("tags", tags.top);
    rows("prompt terms", terms.top);
    rows("samplers", samplers.top);
    rows("steps", steps.top);
    week_rows("prompts", prompt_count, base);
    week_rows("prompt words", word_count, base);
    response.status = 200;
    response.content_type = "text/csv; charset=utf-8";
    response.body = std::move(csv);
    response.headers.emplace_back("Content-Disposition", "attachment; filename=\"seedbank-trends.csv\"");
    response.headers.emplace_back("Access-Control-Allow-Origin", "*");
  } else {
    json body{
        {"generatedAt", iso8601(now_ms)},
        {"weeks", labels},
        {"scope",
         {{"releases", "every release on the network: releases reach every node"},
          {"community", "the image posts, reactions and ratings this node holds"}}},
        {"releases",
         {{"total", rel_type.totals}, {"byType", series_json(rel_type)}, {"byBaseModel", series_json(rel_base)}}},
        {"posts",
         {{"total", post_type.totals}, {"byType", series_json(post_type)}, {"byBaseModel", series_json(post_base)}}},
        {"tags", series_json(tags)},
        {"risingModels", {{"days7", rising_models(0)}, {"days30", rising_models(2)}}},
        {"prompts",
         {{"baseModel", base},
          {"baseModels", base_models},
          {"prompts", prompt_count},
          {"averageWords", average},
          {"terms", series_json(terms, "term")},
          {"rising", rising_terms},
          {"samplers", series_json(samplers)},
          {"steps", series_json(steps, "steps")}}},
        {"complete", !cut},
    };
    response = json_response(200, body);
  }
  std::lock_guard lock(trends_mutex);
  if (trends_cache.size() >= kMaxCached) {
    auto oldest = std::min_element(trends_cache.begin(), trends_cache.end(),
                                   [](const auto& a, const auto& b) { return a.second.at < b.second.at; });
    trends_cache.erase(oldest);
  }
  trends_cache[cache_key] = TrendsAnswer{records, now, response};
  return response;
}

}  // namespace seedbank::node
