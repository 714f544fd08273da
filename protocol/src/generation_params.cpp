// AUTOMATIC1111 infotext and ComfyUI prompt graphs -> GenerationParams.
//
// A1111 writes its infotext (modules/infotext_utils.py in its repository) as
// prompt lines, an optional "Negative prompt:" line, and one settings line of
// "Key: value" pairs, where a value holding a comma, colon or newline is
// written as a JSON string. ComfyUI saves the graph it ran ("prompt": node id
// -> {class_type, inputs}, a link being [node id, output index]) and the
// editor's graph ("workflow").
#include "seedbank/protocol/generation_params.h"

#include "seedbank/protocol/text.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <exception>
#include <limits>

#include <nlohmann/json.hpp>

namespace seedbank::protocol {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view trim_end(std::string_view s) {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

template <typename T>
std::optional<T> parse_number(std::string_view s) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  T value{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) return std::nullopt;
  }
  return value;
}

std::optional<char32_t> hex4(std::string_view s, std::size_t at) {
  if (s.size() < at + 4) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(s.data() + at, s.data() + at + 4, value, 16);
  if (ec != std::errc() || end != s.data() + at + 4) return std::nullopt;
  return static_cast<char32_t>(value);
}

// The inside of a JSON string literal, unescaped. Unknown escapes keep the
// escaped character; a lone surrogate becomes U+FFFD.
std::string json_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char e = s[++i];
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        auto cp = hex4(s, i + 1);
        if (!cp) {
          out += e;
          break;
        }
        i += 4;
        if (*cp >= 0xd800 && *cp <= 0xdbff && i + 2 < s.size() && s[i + 1] == '\\' && s[i + 2] == 'u') {
          auto low = hex4(s, i + 3);
          if (low && *low >= 0xdc00 && *low <= 0xdfff) {
            append_utf8(out, 0x10000 + ((*cp - 0xd800) << 10) + (*low - 0xdc00));
            i += 6;
            break;
          }
        }
        append_utf8(out, *cp >= 0xd800 && *cp <= 0xdfff ? 0xfffd : *cp);
        break;
      }
      default:
        out += e;
        break;  // \" \\ \/ and anything unknown
    }
  }
  return out;
}

// ---- The A1111 settings line ---------------------------------------------

// A1111 keys are word characters, spaces, '-' and '/' ("CFG scale",
// "Hires upscaler", "Lora hashes", "Hypertile U-Net"); extensions add digits
// and '_' and sometimes non-ASCII letters.
bool is_key_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || c == ' ' || c == '-' || c == '/' || c == '.' || u >= 0x80;
}

constexpr std::size_t kMaxKeyLength = 64;

// Splits a settings line into pairs. A segment that is not "Key: value"
// continues the previous value (old A1111 versions did not quote values with
// commas); nullopt when the line does not start with a pair.
std::optional<Pairs> split_settings(std::string_view line) {
  Pairs pairs;
  std::size_t pos = 0;
  const auto skip_spaces = [&] {
    while (pos < line.size() && is_space(line[pos])) ++pos;
  };
  const auto until_comma = [&] {
    const std::size_t start = pos;
    pos = std::min(line.find(',', pos), line.size());
    return line.substr(start, pos - start);
  };
  while (true) {
    skip_spaces();
    if (pos >= line.size()) break;
    std::size_t key_end = pos;
    while (key_end < line.size() && is_key_char(line[key_end])) ++key_end;
    const std::string_view key = trim(line.substr(pos, key_end - pos));
    const auto first = key.empty() ? 0 : static_cast<unsigned char>(key.front());
    const bool is_pair = key_end < line.size() && line[key_end] == ':' && !key.empty() && key.size() <= kMaxKeyLength &&
                         (std::isalnum(first) || first >= 0x80);
    if (!is_pair) {
      if (pairs.empty()) return std::nullopt;
      const std::string_view extra = trim(until_comma());
      if (!extra.empty()) pairs.back().second.append(", ").append(extra);
    } else {
      pos = key_end + 1;
      skip_spaces();
      std::string value;
      bool quoted = false;
      if (pos < line.size() && line[pos] == '"') {
        std::size_t close = pos + 1;
        while (close < line.size() && line[close] != '"') close += line[close] == '\\' ? 2 : 1;
        if (close < line.size()) {
          value = json_unescape(line.substr(pos + 1, close - pos - 1));
          pos = close + 1;
          quoted = true;
          const std::string_view tail = trim(until_comma());  // junk after the quote
          if (!tail.empty()) value.append(tail);
        }
      }
      if (!quoted) value = std::string(trim(until_comma()));
      pairs.emplace_back(std::string(key), std::move(value));
    }
    if (pos < line.size() && line[pos] == ',') ++pos;
  }
  if (pairs.empty()) return std::nullopt;
  return pairs;
}

// The settings line is recognised by its shape, so a prompt that merely
// mentions "Steps:" stays a prompt: either it starts with "Steps: <number>"
// (as every A1111 version writes it), or it has at least three pairs of which
// at least two are well-known settings.
std::optional<Pairs> parse_settings_line(std::string_view line) {
  auto pairs = split_settings(line);
  if (!pairs) return std::nullopt;
  if (pairs->front().first == "Steps" && parse_number<std::uint32_t>(pairs->front().second)) return pairs;
  static constexpr std::string_view kKnown[] = {"Steps", "Sampler", "CFG scale", "Seed", "Size", "Model hash", "Model"};
  const auto known = std::count_if(pairs->begin(), pairs->end(), [](const auto& pair) {
    return std::find(std::begin(kKnown), std::end(kKnown), pair.first) != std::end(kKnown);
  });
  if (pairs->size() >= 3 && known >= 2) return pairs;
  return std::nullopt;
}

void apply_settings(Pairs pairs, GenerationParams& p) {
  bool have_sampler = false, have_hash = false, have_model = false;
  for (const auto& [key, value] : pairs) {
    if (key == "Steps" && !p.steps) {
      p.steps = parse_number<std::uint32_t>(value);
    } else if (key == "Sampler" && !have_sampler) {
      p.sampler = value;
      have_sampler = true;
    } else if (key == "CFG scale" && !p.cfg_scale) {
      p.cfg_scale = parse_number<double>(value);
    } else if (key == "Seed" && !p.seed) {
      p.seed = parse_number<std::int64_t>(value);
    } else if (key == "Size" && !p.width) {
      const std::size_t x = value.find('x');
      if (x != std::string::npos) {
        auto width = parse_number<std::uint32_t>(std::string_view(value).substr(0, x));
        auto height = parse_number<std::uint32_t>(std::string_view(value).substr(x + 1));
        if (width && height) {
          p.width = width;
          p.height = height;
        }
      }
    } else if (key == "Model hash" && !have_hash) {
      p.model_hash = value;
      have_hash = true;
    } else if (key == "Model" && !have_model) {
      p.model_name = value;
      have_model = true;
    }
  }
  p.settings = std::move(pairs);
}

// ---- ComfyUI ---------------------------------------------------------------

using nlohmann::json;

constexpr int kMaxJsonDepth = 256;
constexpr int kMaxLinkHops = 16;
constexpr int kMaxLinkVisits = 64;

// Deeply nested JSON is refused before nlohmann sees it.
bool json_depth_ok(std::string_view s) { return json_depth_at_most(s, kMaxJsonDepth); }

bool looks_like_json_object(std::string_view s) {
  s = trim(s);
  return !s.empty() && s.front() == '{';
}

class ComfyGraph {
 public:
  explicit ComfyGraph(const json& graph) : graph_(graph) {}

  // The node a link ([node id, output index]) points at, or nullptr.
  const json* follow(const json& link) const {
    if (!link.is_array() || link.size() != 2) return nullptr;
    std::string id;
    if (link[0].is_string())
      id = link[0].get<std::string>();
    else if (link[0].is_number_integer())
      id = std::to_string(link[0].get<std::int64_t>());
    else
      return nullptr;
    const auto it = graph_.find(id);
    if (it == graph_.end() || !it->is_object()) return nullptr;
    return &*it;
  }

  static const json* inputs_of(const json& node) {
    const auto it = node.find("inputs");
    return it != node.end() && it->is_object() ? &*it : nullptr;
  }

  // The prompt text behind a conditioning input: a CLIPTextEncode-like
  // node's text, through pass-through nodes (ControlNet, combine) and
  // primitive string nodes. A node may have several inputs to try, so the
  // search is bounded by the number of nodes visited, not only by depth.
  std::optional<std::string> text_behind(const json& input) const {
    int visits = kMaxLinkVisits;
    return text_behind(input, 0, visits);
  }

  std::optional<std::string> text_behind(const json& input, int hops, int& visits) const {
    if (input.is_string()) return input.get<std::string>();
    if (hops >= kMaxLinkHops || visits <= 0) return std::nullopt;
    --visits;
    const json* node = follow(input);
    const json* inputs = node ? inputs_of(*node) : nullptr;
    if (!inputs) return std::nullopt;
    for (const char* key : {"text", "text_g", "prompt", "string", "text_positive", "value", "conditioning",
                            "conditioning_1", "conditioning_to"}) {
      const auto it = inputs->find(key);
      if (it == inputs->end()) continue;
      if (auto text = text_behind(*it, hops + 1, visits)) return text;
    }
    return std::nullopt;
  }

  // A number input, directly or through one primitive node.
  std::optional<double> number_behind(const json& input, int hops = 0) const {
    if (input.is_number()) return input.get<double>();
    if (hops >= 2) return std::nullopt;
    const json* node = follow(input);
    const json* inputs = node ? inputs_of(*node) : nullptr;
    if (!inputs) return std::nullopt;
    for (const char* key : {"seed", "noise_seed", "value", "int", "number"}) {
      const auto it = inputs->find(key);
      if (it != inputs->end())
        if (auto number = number_behind(*it, hops + 1)) return number;
    }
    return std::nullopt;
  }

  std::optional<std::int64_t> integer_behind(const json& input) const {
    if (input.is_number_unsigned()) {
      const auto value = input.get<std::uint64_t>();
      if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
      return static_cast<std::int64_t>(value);
    }
    if (input.is_number_integer()) return input.get<std::int64_t>();
    const json* node = input.is_array() ? follow(input) : nullptr;
    const json* inputs = node ? inputs_of(*node) : nullptr;
    if (!inputs) return std::nullopt;
    for (const char* key : {"seed", "noise_seed", "value", "int"}) {
      const auto it = inputs->find(key);
      if (it != inputs->end() && (it->is_number_integer())) return integer_behind(*it);
    }
    return std::nullopt;
  }

  // The checkpoint behind a model input, through LoRA loaders and patches.
  std::optional<std::string> checkpoint_behind(const json& input) const {
    const json* at = &input;
    for (int hop = 0; hop < kMaxLinkHops; ++hop) {
      const json* node = follow(*at);
      const json* inputs = node ? inputs_of(*node) : nullptr;
      if (!inputs) return std::nullopt;
      for (const char* key : {"ckpt_name", "unet_name", "model_name"}) {
        const auto it = inputs->find(key);
        if (it != inputs->end() && it->is_string()) return it->get<std::string>();
      }
      const auto next = inputs->find("model");
      if (next == inputs->end()) return std::nullopt;
      at = &*next;
    }
    return std::nullopt;
  }

  // The sampler node: the first KSampler-like node by numeric id.
  const json* find_sampler() const {
    const json* best = nullptr;
    std::int64_t best_id = std::numeric_limits<std::int64_t>::max();
    for (auto it = graph_.begin(); it != graph_.end(); ++it) {
      const json& node = it.value();
      if (!node.is_object()) continue;
      const auto type = node.find("class_type");
      if (type == node.end() || !type->is_string()) continue;
      if (type->get_ref<const std::string&>().rfind("KSampler", 0) != 0) continue;
      const json* inputs = inputs_of(node);
      if (!inputs || !inputs->contains("positive")) continue;  // not KSamplerSelect
      const std::int64_t id = parse_number<std::int64_t>(it.key()).value_or(std::numeric_limits<std::int64_t>::max());
      if (!best || id < best_id) {
        best = &node;
        best_id = id;
      }
    }
    return best;
  }

 private:
  const json& graph_;
};

// Fills the fields of `p` that are still unset from a ComfyUI prompt graph.
void fill_from_comfy_prompt(std::string_view text, GenerationParams& p) {
  if (!json_depth_ok(text)) return;
  try {
    const json graph = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (graph.is_discarded() || !graph.is_object()) return;
    const ComfyGraph comfy(graph);
    const json* sampler = comfy.find_sampler();
    if (!sampler) return;
    const json& inputs = *ComfyGraph::inputs_of(*sampler);
    const auto input = [&](const char* key) -> const json* {
      const auto it = inputs.find(key);
      return it == inputs.end() ? nullptr : &*it;
    };
    if (const json* positive = input("positive"); positive && p.prompt.empty())
      p.prompt = comfy.text_behind(*positive).value_or("");
    if (const json* negative = input("negative"); negative && p.negative_prompt.empty())
      p.negative_prompt = comfy.text_behind(*negative).value_or("");
    const json* seed = input("seed") ? input("seed") : input("noise_seed");
    if (seed && !p.seed) p.seed = comfy.integer_behind(*seed);
    if (const json* steps = input("steps"); steps && !p.steps) {
      if (auto n = comfy.integer_behind(*steps); n && *n >= 0 && *n <= std::numeric_limits<std::uint32_t>::max())
        p.steps = static_cast<std::uint32_t>(*n);
    }
    if (const json* cfg = input("cfg"); cfg && !p.cfg_scale) p.cfg_scale = comfy.number_behind(*cfg);
    if (const json* name = input("sampler_name"); name && name->is_string() && p.sampler.empty())
      p.sampler = name->get<std::string>();
    if (const json* model = input("model"); model && p.model_name.empty())
      p.model_name = comfy.checkpoint_behind(*model).value_or("");
    if (const json* latent = input("latent_image"); latent && !p.width) {
      const json* node = comfy.follow(*latent);
      const json* size = node ? ComfyGraph::inputs_of(*node) : nullptr;
      if (size) {
        const auto width = size->find("width"), height = size->find("height");
        if (width != size->end() && height != size->end() && width->is_number_unsigned() &&
            height->is_number_unsigned() && width->get<std::uint64_t>() <= std::numeric_limits<std::uint32_t>::max() &&
            height->get<std::uint64_t>() <= std::numeric_limits<std::uint32_t>::max()) {
          p.width = width->get<std::uint32_t>();
          p.height = height->get<std::uint32_t>();
        }
      }
    }
  } catch (const std::exception&) {
    // Best effort: a graph of an unexpected shape adds nothing.
  }
}

}  // namespace

bool GenerationParams::empty() const {
  return prompt.empty() && negative_prompt.empty() && !steps && sampler.empty() && !cfg_scale && !seed && !width &&
         !height && model_hash.empty() && model_name.empty() && settings.empty() && comfy_prompt.empty() &&
         comfy_workflow.empty();
}

GenerationParams parse_a1111_parameters(std::string_view text) {
  GenerationParams p;
  p.raw = std::string(text);

  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t end = text.find_first_of("\r\n", start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(trim_end(text.substr(start, end - start)));
    if (end == text.size()) break;
    start = end + (text.compare(end, 2, "\r\n") == 0 ? 2 : 1);
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty()) return p;

  if (auto settings = parse_settings_line(lines.back())) {
    apply_settings(std::move(*settings), p);
    lines.pop_back();
  }

  // Everything before the first "Negative prompt:" line is the prompt, the
  // rest (that line's remainder included) the negative prompt.
  static constexpr std::string_view kNegative = "Negative prompt:";
  const auto negative_line = std::find_if(
      lines.begin(), lines.end(), [](std::string_view line) { return line.substr(0, kNegative.size()) == kNegative; });
  const auto join = [](auto begin, auto end) {
    std::string out;
    for (auto it = begin; it != end; ++it) {
      if (it != begin) out += '\n';
      out += *it;
    }
    return std::string(trim(out));
  };
  p.prompt = join(lines.begin(), negative_line);
  if (negative_line != lines.end()) {
    *negative_line = negative_line->substr(kNegative.size());
    p.negative_prompt = join(negative_line, lines.end());
  }
  return p;
}

std::optional<GenerationParams> generation_params_from_image(const ImageInfo& info) {
  GenerationParams p;
  if (auto parameters = find_text(info, "parameters")) p = parse_a1111_parameters(*parameters);

  if (auto prompt = find_text(info, "prompt")) {
    if (looks_like_json_object(*prompt)) {
      p.comfy_prompt = *prompt;
      fill_from_comfy_prompt(*prompt, p);
    } else if (p.prompt.empty()) {
      p.prompt = std::string(trim(*prompt));  // a tool that stores plain prompt text
    }
  }
  if (auto workflow = find_text(info, "workflow")) p.comfy_workflow = *workflow;

  if (p.empty()) {
    // Some tools put A1111 infotext in a JPEG comment; take it only when it
    // has a settings line, so an ordinary comment is not read as a prompt.
    if (auto comment = find_text(info, "comment")) {
      GenerationParams from_comment = parse_a1111_parameters(*comment);
      if (!from_comment.settings.empty()) return from_comment;
    }
    return std::nullopt;
  }
  return p;
}

namespace {

// A hash as tools write it: 8 to 64 hex digits, lowercased.
std::optional<std::string> hash_text(std::string_view s) {
  s = trim(s);
  if (s.size() < 8 || s.size() > 64) return std::nullopt;
  std::string out;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

// The weight of "<lora:name:weight>" (or "<lyco:...>") in a prompt; a tag
// without one weighs 1.
std::optional<double> lora_weight(std::string_view prompt, std::string_view name) {
  for (std::string_view tag : {std::string_view("<lora:"), std::string_view("<lyco:")}) {
    for (auto at = prompt.find(tag); at != std::string_view::npos; at = prompt.find(tag, at + 1)) {
      auto rest = prompt.substr(at + tag.size());
      if (rest.substr(0, name.size()) != name) continue;
      rest.remove_prefix(name.size());
      if (!rest.empty() && rest.front() == '>') return 1.0;
      if (rest.empty() || rest.front() != ':') continue;
      rest.remove_prefix(1);
      return parse_number<double>(rest.substr(0, rest.find_first_of(":>")));
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<GenerationResource> generation_resources(const GenerationParams& params) {
  std::vector<GenerationResource> out;
  auto add = [&](std::string type, std::string_view name, std::string_view hash) {
    auto h = hash_text(hash);
    if (!h || out.size() >= kMaxGenerationResources) return;
    for (auto& r : out)
      if (r.hash == *h) {
        if (r.name.empty()) r.name = std::string(trim(name));
        return;
      }
    GenerationResource r{std::move(type), std::string(trim(name)), *h, std::nullopt};
    if (r.type == "lora" && !r.name.empty()) r.weight = lora_weight(params.prompt, r.name);
    out.push_back(std::move(r));
  };
  auto setting = [&](std::string_view key) -> std::optional<std::string_view> {
    for (const auto& [k, v] : params.settings)
      if (k == key) return std::string_view(v);
    return std::nullopt;
  };
  // "name: hash, name: hash" (a name may hold ':', a hash never does).
  auto add_list = [&](const char* type, std::string_view list) {
    while (!list.empty()) {
      const auto comma = list.find(',');
      const auto entry = list.substr(0, comma);
      if (const auto colon = entry.rfind(':'); colon != std::string_view::npos)
        add(type, entry.substr(0, colon), entry.substr(colon + 1));
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  };
  add("model", params.model_name, params.model_hash);
  if (auto h = setting("VAE hash")) add("vae", setting("VAE").value_or(""), *h);
  if (auto l = setting("Lora hashes")) add_list("lora", *l);
  if (auto l = setting("TI hashes")) add_list("embed", *l);
  if (auto hashes = setting("Hashes"); hashes && json_depth_ok(*hashes)) {
    const json j = json::parse(*hashes, nullptr, /*allow_exceptions=*/false);
    if (j.is_object())
      for (const auto& [key, value] : j.items()) {
        if (!value.is_string()) continue;
        const std::string_view k = key;
        const auto colon = k.find(':');
        const std::string_view kind = k.substr(0, colon);
        const std::string_view name = colon == std::string_view::npos ? std::string_view() : k.substr(colon + 1);
        const auto& h = value.get_ref<const std::string&>();
        if (kind == "model")
          add("model", params.model_name, h);
        else if (kind == "vae")
          add("vae", setting("VAE").value_or(""), h);
        else if (kind == "lora" || kind == "lyco")
          add("lora", name, h);
        else if (kind == "embed")
          add("embed", name, h);
        else if (kind == "hypernet")
          add("hypernet", name, h);
      }
  }
  return out;
}

}  // namespace seedbank::protocol
