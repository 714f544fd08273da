#include "views.h"

#include "civitai.h"

namespace seedbank::node {

nlohmann::ordered_json generation_meta_json(const protocol::GenerationParams& g) {
  JsonOut out;
  write_generation_meta(out, g);
  return nlohmann::ordered_json::parse(out.str());
}

nlohmann::ordered_json model_hints_json(const protocol::ModelHints& h) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  if (!h.type.empty()) out["type"] = h.type;
  if (!h.base_model.empty()) out["baseModel"] = h.base_model;
  if (h.resolution) out["resolution"] = {h.resolution->first, h.resolution->second};
  if (!h.trigger_words.empty()) out["trainedWords"] = h.trigger_words;
  if (!h.precision.empty()) out["precision"] = h.precision;
  if (!h.title.empty()) out["title"] = h.title;
  if (!h.description.empty()) out["description"] = h.description;
  if (!h.author.empty()) out["author"] = h.author;
  if (!h.license.empty()) out["license"] = h.license;
  return out;
}

}  // namespace seedbank::node
