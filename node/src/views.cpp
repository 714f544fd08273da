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

nlohmann::json torrent_status_json(const TorrentStatus& s) {
  return {{"releaseId", s.release_id},
          {"name", s.name},
          {"infoHash", s.info_hash},
          {"state", s.state},
          {"wanted", s.wanted},
          {"done", s.done},
          {"downloadRate", s.download_rate},
          {"uploadRate", s.upload_rate},
          {"downloaded", s.downloaded},
          {"peers", s.peers},
          {"filesWanted", s.files_wanted},
          {"filesStored", s.files_stored},
          {"complete", s.complete},
          {"error", s.error},
          {"errorKind", s.error_kind == ErrorKind::verification ? "verification"
                        : s.error_kind == ErrorKind::disk_full  ? "diskFull"
                        : s.error_kind == ErrorKind::io         ? "io"
                                                                : ""},
          {"v1CompatInfoHash",
           s.v1_compat_info_hash.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.v1_compat_info_hash)}};
}

}  // namespace seedbank::node
