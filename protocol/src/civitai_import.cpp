#include "seedbank/protocol/civitai_import.h"

#include <nlohmann/json.hpp>

#include "seedbank/protocol/text.h"

namespace seedbank::protocol {
namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxJson = 16u << 20;

// Reads a string field; a missing or null field gives "".
Status read_string(const json& obj, const char* key, std::string* out, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_string()) return make_error(ErrorCode::malformed, where + ": \"" + key + "\" is not a string");
  *out = sanitize_utf8(it->get<std::string>());
  return {};
}

Status read_string_list(const json& obj, const char* key, std::vector<std::string>* out, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_array()) return make_error(ErrorCode::malformed, where + ": \"" + key + "\" is not a list");
  for (const auto& v : *it) {
    if (v.is_string())
      out->push_back(sanitize_utf8(v.get<std::string>()));
    else if (v.is_object() && v.contains("name") && v["name"].is_string())  // tags as {"name": ...}
      out->push_back(sanitize_utf8(v["name"].get<std::string>()));
  }
  return {};
}

std::string scalar_text(const json& v) {
  if (v.is_string()) return sanitize_utf8(v.get<std::string>());
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  if (v.is_number()) {
    std::string s = v.dump();
    return s;
  }
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return sanitize_utf8(v.dump());
}

GenerationParams meta_from_json(const json& meta) {
  GenerationParams g;
  if (!meta.is_object()) return g;
  for (auto it = meta.begin(); it != meta.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (v.is_null()) continue;
    if (key == "prompt" && v.is_string())
      g.prompt = sanitize_utf8(v.get<std::string>());
    else if (key == "negativePrompt" && v.is_string())
      g.negative_prompt = sanitize_utf8(v.get<std::string>());
    else if (key == "steps" && v.is_number_unsigned())
      g.steps = static_cast<std::uint32_t>(v.get<std::uint64_t>());
    else if (key == "sampler" && v.is_string())
      g.sampler = sanitize_utf8(v.get<std::string>());
    else if (key == "cfgScale" && v.is_number())
      g.cfg_scale = v.get<double>();
    else if (key == "seed" && v.is_number_integer())
      g.seed = v.get<std::int64_t>();
    else if (key == "Model hash" && v.is_string())
      g.model_hash = sanitize_utf8(v.get<std::string>());
    else if (key == "Model" && v.is_string())
      g.model_name = sanitize_utf8(v.get<std::string>());
    else if (key == "Size" && v.is_string()) {
      auto s = v.get<std::string>();
      auto x = s.find('x');
      try {
        if (x != std::string::npos) {
          g.width = static_cast<std::uint32_t>(std::stoul(s.substr(0, x)));
          g.height = static_cast<std::uint32_t>(std::stoul(s.substr(x + 1)));
        }
      } catch (const std::exception&) {
      }
      g.settings.emplace_back(key, sanitize_utf8(s));
    } else if (key == "comfy" && v.is_string()) {
      g.comfy_prompt = sanitize_utf8(v.get<std::string>());
    } else if (v.is_string() || v.is_number() || v.is_boolean()) {
      g.settings.emplace_back(key, scalar_text(v));
    }
  }
  return g;
}

}  // namespace

GenerationParams generation_from_civitai_meta(std::string_view meta_json) {
  auto meta = json::parse(meta_json.begin(), meta_json.end(), nullptr, false);
  if (meta.is_discarded()) return {};
  return meta_from_json(meta);
}

Result<CivitaiImport> parse_civitai_version_json(std::string_view text, std::string_view name) {
  const std::string where(name);
  if (text.size() > kMaxJson)
    return make_error(ErrorCode::limit, where + ": " + std::to_string(text.size()) +
                                            " bytes is more than a Civitai model-version file can be (16 MiB)");
  json doc = json::parse(text.begin(), text.end(), nullptr, false, /*ignore_comments=*/false);
  if (doc.is_discarded())
    return make_error(ErrorCode::malformed, where +
                                                ": not valid JSON; give a .civitai.info file or the JSON of "
                                                "Civitai's /api/v1/model-versions endpoint");
  if (!doc.is_object())
    return make_error(ErrorCode::malformed, where + ": expected a JSON object (a Civitai model version)");
  // GET /api/v1/models/:id returns a model with modelVersions: take the first.
  if (doc.contains("modelVersions") && doc["modelVersions"].is_array() && !doc["modelVersions"].empty()) {
    json model = doc;
    json version = doc["modelVersions"][0];
    if (!version.is_object()) return make_error(ErrorCode::malformed, where + ": modelVersions[0] is not an object");
    model.erase("modelVersions");
    version["model"] = model;
    doc = version;
  }
  // ComfyUI-Lora-Manager: {"model_name": ..., "sha256": ..., "civitai": {version}}.
  if (auto c = doc.find("civitai"); c != doc.end() && c->is_object() && !doc.contains("modelId")) {
    json version = *c;
    if (!version.contains("model") && doc.contains("model_name") && doc["model_name"].is_string())
      version["model"] = json{{"name", doc["model_name"]}};
    doc = std::move(version);
  }
  CivitaiImport out;
  auto read_id = [](const json& obj, const char* key) -> std::uint64_t {
    auto it = obj.find(key);
    return it != obj.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
  };
  out.version_id = read_id(doc, "id");
  out.model_id = read_id(doc, "modelId");
  auto creator_of = [](const json& obj) -> std::string {
    auto c = obj.find("creator");
    if (c == obj.end() || !c->is_object()) return "";
    auto u = c->find("username");
    return u != c->end() && u->is_string() ? sanitize_utf8(u->get<std::string>()) : "";
  };
  out.creator = creator_of(doc);
  if (auto it = doc.find("files"); it != doc.end() && it->is_array()) {
    for (const auto& f : *it) {
      if (!f.is_object() || out.files.size() == 64) continue;
      CivitaiFile cf;
      if (auto n = f.find("name"); n != f.end() && n->is_string()) cf.name = sanitize_utf8(n->get<std::string>());
      if (auto p = f.find("primary"); p != f.end() && p->is_boolean()) cf.primary = p->get<bool>();
      if (auto h = f.find("hashes"); h != f.end() && h->is_object()) {
        if (auto v = h->find("SHA256"); v != h->end() && v->is_string())
          cf.sha256 = from_hex_fixed<32>(v->get<std::string>());
        if (auto v = h->find("AutoV2"); v != h->end() && v->is_string() && v->get<std::string>().size() <= 16)
          cf.autov2 = sanitize_utf8(v->get<std::string>());
      }
      out.files.push_back(std::move(cf));
    }
  }
  if (auto st = read_string(doc, "name", &out.version_name, where); !st) return st.error();
  if (auto st = read_string(doc, "baseModel", &out.base_model, where); !st) return st.error();
  if (auto st = read_string(doc, "description", &out.description, where); !st) return st.error();
  if (auto st = read_string_list(doc, "trainedWords", &out.trained_words, where); !st) return st.error();
  if (auto it = doc.find("model"); it != doc.end() && it->is_object()) {
    const json& model = *it;
    if (auto st = read_string(model, "name", &out.model_name, where + ": model"); !st) return st.error();
    if (auto st = read_string(model, "type", &out.type, where + ": model"); !st) return st.error();
    if (auto st = read_string(model, "description", &out.model_description, where + ": model"); !st) return st.error();
    if (out.description.empty()) out.description = out.model_description;
    if (auto st = read_string_list(model, "tags", &out.tags, where + ": model"); !st) return st.error();
    if (auto n = model.find("nsfw"); n != model.end() && n->is_boolean()) out.nsfw = n->get<bool>();
    if (out.creator.empty()) out.creator = creator_of(model);
    auto flag = [&](const char* key, std::optional<bool>* to) {
      if (auto f = model.find(key); f != model.end() && f->is_boolean()) *to = f->get<bool>();
    };
    flag("allowNoCredit", &out.allow_no_credit);
    flag("allowDerivatives", &out.allow_derivatives);
    flag("allowDifferentLicense", &out.allow_different_license);
    // allowCommercialUse: a list of uses, or (older API answers) one string.
    if (auto u = model.find("allowCommercialUse"); u != model.end()) {
      if (u->is_string()) out.allow_commercial_use.push_back(u->get<std::string>());
      if (u->is_array())
        for (const auto& v : *u)
          if (v.is_string() && out.allow_commercial_use.size() < 8)
            out.allow_commercial_use.push_back(v.get<std::string>());
    }
  }
  if (out.creator.size() > 256) out.creator.clear();
  // Keep within what a release record may hold, so a publish that imports
  // this never fails late on a limit.
  auto clip_list = [](std::vector<std::string>& v, std::size_t max_items, std::size_t max_len) {
    std::vector<std::string> out;
    for (auto& s : v) {
      if (s.empty() || s.size() > max_len || out.size() == max_items) continue;
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
    }
    v = std::move(out);
  };
  clip_list(out.tags, 64, 64);
  clip_list(out.trained_words, 128, 1024);
  if (out.description.size() > 100 * 1024) out.description = sanitize_utf8(out.description.substr(0, 100 * 1024));
  if (out.model_description.size() > 100 * 1024)
    out.model_description = sanitize_utf8(out.model_description.substr(0, 100 * 1024));
  if (out.model_name.size() > 256) out.model_name = sanitize_utf8(out.model_name.substr(0, 256));
  if (out.version_name.size() > 256) out.version_name = sanitize_utf8(out.version_name.substr(0, 256));
  if (out.base_model.size() > 64) out.base_model.clear();
  if (auto it = doc.find("images"); it != doc.end() && it->is_array()) {
    for (const auto& img : *it) {
      if (!img.is_object()) continue;
      CivitaiImage ci;
      if (auto w = img.find("width"); w != img.end() && w->is_number_unsigned())
        ci.width = static_cast<std::uint32_t>(w->get<std::uint64_t>());
      if (auto h = img.find("height"); h != img.end() && h->is_number_unsigned())
        ci.height = static_cast<std::uint32_t>(h->get<std::uint64_t>());
      if (auto n = img.find("nsfw"); n != img.end()) {
        if (n->is_boolean())
          ci.nsfw = n->get<bool>();
        else if (n->is_string())
          ci.nsfw = n->get<std::string>() != "None";
      }
      if (auto m = img.find("meta"); m != img.end() && m->is_object()) {
        auto g = meta_from_json(*m);
        if (!g.empty()) ci.meta = std::move(g);
      }
      out.images.push_back(std::move(ci));
    }
  }
  return out;
}

}  // namespace seedbank::protocol
