// Publishing from the gallery: files uploaded in chunks (http/uploads.h)
// or named by their path on this machine, and the fields `seedbank
// publish` takes, signed by publish() as the command signs them. Only the
// node's own user (foreign()), with the node's identity key.
#include "http/api_impl.h"

#include <unistd.h>

#include "node_services.h"

#include <algorithm>

#include "seedbank/node/publish.h"

namespace seedbank::node {

namespace {

constexpr std::size_t kMaxPublishFiles = 32;  // model files, and sample images, per release
constexpr std::size_t kMaxPublishJobs = 16;   // finished jobs remembered for their pages

json upload_json(const UploadInfo& u) {
  return json{{"id", u.id},
              {"name", u.name},
              {"size", u.size},
              {"received", u.received},
              {"complete", u.complete()},
              {"modified", u.modified},
              {"created", u.created},
              {"publishing", u.publishing}};
}

unsigned status_of(const p::Error& e) {
  switch (e.code) {
    case p::ErrorCode::not_found:
      return 404;
    case p::ErrorCode::conflict:
      return 409;
    case p::ErrorCode::limit:
      return 507;
    case p::ErrorCode::io:
    case p::ErrorCode::internal:
      return 500;
    default:
      return 400;
  }
}

json generation_json(const std::optional<p::GenerationParams>& g) {
  if (!g) return nullptr;
  JsonOut meta;
  write_generation_meta(meta, *g);
  return json::parse(meta.take(), nullptr, false);
}

json published_json(const PublishResult& result) {
  const auto& rec = *result.record;
  auto r = rec.body().getPayload().getRelease();
  json files = json::array();
  for (const auto& f : result.files) files.push_back(published_file_json(f));
  return {{"releaseId", p::to_hex(rec.id())},
          {"alreadyPublished", result.already_published},
          {"modelId", civitai_model_id(rec.author(), r.getModelSlug().cStr())},
          {"modelVersionId", civitai_id(rec.id())},
          {"creator", rec.author().to_text()},
          {"model", r.getModelName().cStr()},
          {"version", r.getVersionName().cStr()},
          {"type", std::string(p::model_type_name(r.getType()))},
          {"baseModel", r.getBaseModel().cStr()},
          {"supersedes",
           r.getSupersedes().size() ? json(p::to_hex(p::ByteView(r.getSupersedes().begin(), 32))) : json(nullptr)},
          {"infoHashV2", p::to_hex(p::ByteView(r.getTorrent().getInfoHashV2().begin(), 32))},
          {"magnet", result.magnet},
          {"files", files},
          {"warnings", result.warnings}};
}

}  // namespace

// ---- uploads ----

// POST /api/seedbank/uploads {name, size, modified}: a new upload.
HttpResponse Api::Impl::create_upload(const HttpRequest& request) {
  json b;
  if (auto r = own_json_body(request, "upload files to this node", "{\"name\": \"file.safetensors\", \"size\": N}", &b))
    return *r;
  if (!b.contains("name") || !b["name"].is_string()) return error_response(400, "name: give the file's name");
  if (!b.contains("size") || !b["size"].is_number_unsigned())
    return error_response(400, "size: give the file's size in bytes");
  std::uint64_t modified =
      b.contains("modified") && b["modified"].is_number_unsigned() ? b["modified"].get<std::uint64_t>() : 0;
  auto made = uploads.create(b["name"].get<std::string>(), b["size"].get<std::uint64_t>(), modified, config.store_quota,
                             config.store_quota ? store.used_bytes() : 0);
  if (!made) return error_response(status_of(made.error()), made.error().message);
  json out = upload_json(*made);
  out["chunkBytes"] = kUploadChunkBytes;
  return json_response(200, out);
}

// GET /api/seedbank/uploads[/ID], POST /api/seedbank/uploads/ID?offset=N
// (the body: the chunk), DELETE /api/seedbank/uploads/ID.
HttpResponse Api::Impl::upload(const HttpRequest& request, const HttpTarget& t, const std::string& id) {
  if (auto r = foreign(request, "upload files to this node")) return *r;
  if (id.empty()) {
    if (request.method != "GET" && request.method != "HEAD")
      return error_response(405, request.method + " needs an upload's id: /api/seedbank/uploads/ID");
    json items = json::array();
    for (const auto& u : uploads.list()) items.push_back(upload_json(u));
    return json_response(200, json{{"items", items}, {"chunkBytes", kUploadChunkBytes}});
  }
  if (request.method == "DELETE") {
    if (auto st = uploads.remove(id); !st) return error_response(status_of(st.error()), st.error().message);
    return json_response(200, json{{"id", id}, {"removed", true}});
  }
  if (request.method == "POST") {
    auto offset = parse_number(t.get("offset").value_or(""));
    if (!offset) return error_response(400, "offset: give the byte offset of this chunk (?offset=N)");
    if (request.body.empty()) return error_response(400, "the body must be the chunk's bytes");
    auto written = uploads.write(id, *offset, request.body);
    if (!written) {
      auto answer = error_response(status_of(written.error()), written.error().message);
      // A client that lost track learns where to go on.
      if (auto now = uploads.get(id))
        answer = json_response(answer.status, json{{"error", written.error().message}, {"received", now->received}});
      return answer;
    }
    return json_response(200, upload_json(*written));
  }
  auto info = uploads.get(id);
  if (!info) return error_response(status_of(info.error()), info.error().message);
  return json_response(200, upload_json(*info));
}

// ---- publishing ----

// The files and fields of a publish request's body into `req`; the
// uploads it names go into `used` (their ids). Or the 400 to answer.
std::optional<HttpResponse> Api::Impl::read_publish_body(const HttpRequest& request, const json& b,
                                                         const p::SecretKey& key, PublishRequest* req,
                                                         std::vector<UploadInfo>* used,
                                                         std::vector<std::filesystem::path>* by_path) {
  // A file: {"upload": ID} (uploaded here) or {"path": "/abs/path"} (on this machine).
  auto file = [&](const json& v, const std::string& field) -> std::variant<std::filesystem::path, HttpResponse> {
    if (v.is_object() && v.contains("upload") && v["upload"].is_string()) {
      auto info = uploads.get(v["upload"].get<std::string>());
      if (!info) return error_response(status_of(info.error()), field + ": " + info.error().message);
      used->push_back(*info);
      return info->path;
    }
    if (v.is_object() && v.contains("path") && v["path"].is_string()) {
      std::filesystem::path path(v["path"].get<std::string>());
      // Other users of this machine reach its loopback address too: only
      // the node's own user may have it read a file by its path.
      if (auto uid = loopback_peer_uid(request.remote, request.remote_port); !uid || *uid != ::geteuid())
        return error_response(403, field + ": only the user the node runs as (uid " + std::to_string(::geteuid()) +
                                       ") may name a file by its path" +
                                       (uid ? " (this request came from uid " + std::to_string(*uid) + ")" : "") +
                                       "; upload the file instead");
      if (!path.is_absolute())
        return error_response(400, field + ": '" + path.string().substr(0, 200) +
                                       "' is not an absolute path; give the whole path of the file on this machine");
      // Never the node's own files (its key, its index, its store).
      std::error_code ec, home_ec;
      auto real = std::filesystem::weakly_canonical(path, ec);
      auto home = std::filesystem::weakly_canonical(data_dir, home_ec);
      if (ec || home_ec || real.empty() || home.empty())
        return error_response(400, field + ": '" + path.string().substr(0, 200) +
                                       "' cannot be resolved: " + (ec ? ec : home_ec).message());
      auto [end, at] = std::mismatch(home.begin(), home.end(), real.begin(), real.end());
      if (end == home.end())
        return error_response(403, field + ": '" + path.string().substr(0, 200) +
                                       "' is in the node's data dir; publish a file of your own");
      by_path->push_back(path);
      return path;
    }
    return error_response(400, field +
                                   ": give {\"upload\": ID} (POST /api/seedbank/uploads) or {\"path\": "
                                   "\"/path/on/this/machine\"}");
  };
  auto files = [&](const char* field, std::vector<std::filesystem::path>& to) -> std::optional<HttpResponse> {
    if (!b.contains(field) || b[field].is_null()) return std::nullopt;
    if (!b[field].is_array() || b[field].size() > kMaxPublishFiles)
      return error_response(
          400, std::string(field) + ": give a list of at most " + std::to_string(kMaxPublishFiles) + " files");
    for (std::size_t i = 0; i < b[field].size(); ++i) {
      auto f = file(b[field][i], std::string(field) + "[" + std::to_string(i) + "]");
      if (auto* r = std::get_if<HttpResponse>(&f)) return *r;
      to.push_back(std::get<std::filesystem::path>(f));
    }
    return std::nullopt;
  };
  if (auto r = files("files", req->files)) return r;
  if (auto r = files("images", req->images)) return r;
  if (b.contains("civitaiInfo") && !b["civitaiInfo"].is_null()) {
    auto f = file(b["civitaiInfo"], "civitaiInfo");
    if (auto* r = std::get_if<HttpResponse>(&f)) return *r;
    req->civitai_json = std::get<std::filesystem::path>(f);
  }
  auto string = [&](const char* field, std::string& to) -> std::optional<HttpResponse> {
    if (!b.contains(field) || b[field].is_null()) return std::nullopt;
    if (!b[field].is_string()) return error_response(400, std::string(field) + ": give text");
    to = b[field].get<std::string>();
    return std::nullopt;
  };
  auto strings = [&](const char* field, std::vector<std::string>& to) -> std::optional<HttpResponse> {
    if (!b.contains(field) || b[field].is_null()) return std::nullopt;
    if (!b[field].is_array()) return error_response(400, std::string(field) + ": give a list of text");
    for (const auto& v : b[field]) {
      if (!v.is_string()) return error_response(400, std::string(field) + ": give a list of text");
      if (!v.get<std::string>().empty()) to.push_back(v.get<std::string>());
    }
    return std::nullopt;
  };
  auto flag = [&](const char* field) -> std::optional<bool> {
    if (!b.contains(field) || !b[field].is_boolean()) return std::nullopt;
    return b[field].get<bool>();
  };
  for (auto [field, to] : {std::pair{"name", &req->name},
                           {"version", &req->version},
                           {"type", &req->type},
                           {"baseModel", &req->base_model},
                           {"description", &req->description},
                           {"modelDescription", &req->model_description},
                           {"license", &req->license}})
    if (auto r = string(field, *to)) return r;
  if (auto r = strings("tags", req->tags)) return r;
  if (auto r = strings("trainedWords", req->trigger_words)) return r;
  if (auto r = strings("trackers", req->trackers)) return r;
  if (auto r = strings("allowCommercialUse", req->commercial_use)) return r;
  req->allow_derivatives = flag("allowDerivatives");
  req->allow_no_credit = flag("allowNoCredit");
  req->allow_different_license = flag("allowDifferentLicense");
  req->nsfw = flag("nsfw").value_or(false);
  req->v2_only = flag("v2Only").value_or(false);
  req->allow_unsafe = flag("allowUnsafe").value_or(false);
  if (b.contains("nsfwLevel") && !b["nsfwLevel"].is_null()) {
    auto level = json_nsfw_level(b["nsfwLevel"]);
    if (!level) return error_response(400, "nsfwLevel: give 1, 2, 4, 8 or 16 (PG, PG-13, R, X, XXX)");
    if (req->nsfw && *level < p::kR)
      return error_response(400, "nsfw marks the images R at least; give nsfwLevel R, X or XXX, or leave nsfw out");
    req->image_nsfw_level = *level;
  }
  // A new version of one of this key's models: the version it follows.
  if (b.contains("supersedes") && !b["supersedes"].is_null()) {
    if (!b["supersedes"].is_number_unsigned())
      return error_response(400, "supersedes: give the model version id (a number) this version follows");
    auto prev = listed_release(b["supersedes"].get<std::uint64_t>());
    if (!prev) return error_response(404, "supersedes: no model version with id " + b["supersedes"].dump());
    if (current_identity(index, prev->author()) != current_identity(index, key.public_key()))
      return error_response(403, "supersedes: that version was signed by " + prev->author().to_text() +
                                     "; a new version follows one of your own (this node's key is " +
                                     key.public_key().to_text() + ")");
    req->supersedes = p::to_hex(prev->id());
  }
  // The gallery's uploads are the node's: hard-linked into the store, and
  // removed once published.
  for (const auto& u : *used) req->link_files.push_back(u.path);
  return std::nullopt;
}

// An error from publish() names the upload's file by its place in the
// store's temporary folder; the user knows it by its name.
// The command's flags in publish()'s messages are this API's fields here.
std::string Api::Impl::upload_message(std::string message, const std::vector<UploadInfo>& used) {
  for (const auto& u : used) replace_all(message, u.path.string(), u.name);
  replace_all(message, "pass --allow-unsafe", "tick \"Accept pickle files\" (allowUnsafe)");
  replace_all(message, "--allow-commercial-use", "allowCommercialUse");
  replace_all(message, "pass --type", "choose the type");
  replace_all(message, "`seedbank publish --help`", "GET /api/v1/enums");
  return message;
}

// POST /api/seedbank/releases {files, images, civitaiInfo, name, version,
// type, baseModel, ..., dryRun}: with dryRun, what would be signed; else a
// publish job starts (202 {job}) whose progress and result
// GET /api/seedbank/releases/jobs/JOB answers.
HttpResponse Api::Impl::publish_release(const HttpRequest& request) {
  auto form = signing_form(request, "publish with this node's key",
                           "{\"files\": [{\"upload\": ID} or {\"path\": \"...\"}], \"name\": \"...\", ...}", false);
  if (auto* r = std::get_if<HttpResponse>(&form)) return *r;
  auto& [b, release, key] = std::get<SigningForm>(form);
  PublishRequest req;
  std::vector<UploadInfo> used;
  std::vector<std::filesystem::path> by_path;
  if (auto r = read_publish_body(request, b, *key, &req, &used, &by_path)) return *r;
  PublishTarget target{index, store, index.network()};
  // A file named by its path must be a model: a request from this machine
  // cannot have the node publish (or describe) a key or a document it can
  // read. (Other OS users of the machine reach its loopback address too.)
  auto not_a_model = [&](const PublishPreview& checked) -> std::optional<HttpResponse> {
    for (std::size_t i = 0; i < req.files.size() && i < checked.inputs.size(); ++i)
      if (checked.inputs[i].format == sc::FileFormat::OTHER &&
          std::find(by_path.begin(), by_path.end(), req.files[i]) != by_path.end())
        return error_response(400, req.files[i].string() +
                                       ": not a model file (safetensors, ckpt/pt, GGUF or ONNX); a file named by its "
                                       "path must be one. Upload other files instead");
    return std::nullopt;
  };
  if (b.contains("dryRun") && b["dryRun"].is_boolean() && b["dryRun"].get<bool>()) {
    auto preview = preview_publish(target, *key, req);
    if (!preview) return error_response(status_of(preview.error()), upload_message(preview.error().message, used));
    if (auto r = not_a_model(*preview)) return *r;
    const auto& d = preview->draft;
    json inputs = json::array();
    for (const auto& in : preview->inputs) {
      json i = {{"name", in.name}, {"kind", in.image ? "image" : "model"}, {"size", in.size}};
      if (in.image) {
        i["width"] = in.width;
        i["height"] = in.height;
        i["mimeType"] = in.mime_type;
        i["meta"] = generation_json(in.generation);
      } else {
        i["format"] = civitai_format(in.format);
        i["precision"] = civitai_precision(in.precision);
      }
      inputs.push_back(std::move(i));
    }
    json uses = json::array();
    for (auto u : d.allow_commercial_use)
      if (auto name = civitai_commercial_use(u); !name.empty()) uses.push_back(std::string(name));
    json supersedes = nullptr;
    if (d.supersedes)
      if (auto prev = index.get(*d.supersedes)) {
        auto r = prev->body().getPayload().getRelease();
        supersedes = {{"releaseId", p::to_hex(*d.supersedes)},
                      {"modelVersionId", civitai_id(*d.supersedes)},
                      {"model", r.getModelName().cStr()},
                      {"version", r.getVersionName().cStr()}};
      }
    for (auto& w : preview->warnings) w = upload_message(std::move(w), used);
    return json_response(
        200, json{{"name", d.model_name},
                  {"version", d.version_name},
                  {"type", preview->type_missing ? json(nullptr) : json(std::string(p::model_type_name(d.type)))},
                  {"baseModel", d.base_model},
                  {"description", d.description},
                  {"modelDescription", d.model_description},
                  {"tags", d.tags},
                  {"trainedWords", d.trigger_words},
                  {"license", d.license_name},
                  {"allowCommercialUse", uses},
                  {"allowDerivatives", d.allow_derivatives},
                  {"allowNoCredit", d.allow_no_credit},
                  {"allowDifferentLicense", d.allow_different_license},
                  {"nsfw", d.nsfw},
                  {"supersedes", supersedes},
                  {"files", inputs},
                  {"warnings", preview->warnings}});
  }
  for (const auto& u : used)
    if (!u.complete())
      return error_response(400, u.name + ": only " + std::to_string(u.received) + " of " + std::to_string(u.size) +
                                     " bytes have arrived; finish the upload first");
  // Everything publish() checks before hashing, checked now: a mistake is
  // this request's 400, not a job's.
  auto checked = preview_publish(target, *key, req);
  if (!checked) return error_response(status_of(checked.error()), upload_message(checked.error().message, used));
  if (checked->type_missing) return error_response(400, upload_message(*checked->type_missing, used));
  if (auto r = not_a_model(*checked)) return *r;
  std::vector<std::string> ids;
  for (const auto& u : used) ids.push_back(u.id);
  auto claimed = uploads.claim(ids);
  if (!claimed) return error_response(status_of(claimed.error()), claimed.error().message);
  auto job = std::make_shared<PublishJob>();
  job->id = random_hex(16);
  std::lock_guard lock(publish_mutex);
  if (publish_running) {
    uploads.release(ids, false);
    return error_response(409,
                          "another release is being published on this node; wait for it to finish (GET "
                          "/api/seedbank/releases/jobs/" +
                              publish_current + ")");
  }
  publish_running = true;
  publish_current = job->id;
  publish_jobs.emplace_back(job);
  if (publish_jobs.size() > kMaxPublishJobs) publish_jobs.erase(publish_jobs.begin());
  // The job runs on a thread of its own: hashing many GB takes a while,
  // and the page shows its progress meanwhile. Assigning joins the
  // previous job's thread, which has finished: publish_running is false
  // only once it will not take the lock again.
  try {
    publish_thread = std::jthread(
        [this, job, target, req = std::move(req), key = std::move(*key), used = std::move(used), ids]() mutable {
          json answer;
          std::string error;
          unsigned status = 500;
          bool published = false;
          try {
            auto result = publish(target, key, req, [&](std::uint64_t done, std::uint64_t total) {
              std::lock_guard progress(publish_mutex);
              job->done = done;
              job->total = total;
            });
            if (result) {
              published = true;
              answer = published_json(*result);
              if (node)
                node->announce({result->record->id()});  // seeded and announced now, as after `seedbank publish`
            } else {
              status = status_of(result.error());
              error = upload_message(result.error().message, used);
            }
          } catch (const std::exception& e) {
            error = std::string("internal error while publishing: ") + e.what();
          } catch (...) {
            error = "internal error while publishing";
          }
          // Published: the uploads are in the store now. Not published: they
          // stay, for another try without sending them again.
          uploads.release(ids, published);
          std::lock_guard done(publish_mutex);
          if (published) {
            job->result = std::move(answer);
          } else {
            job->status = status;
            job->error = error;
          }
          job->finished = true;
          publish_running = false;
        });
  } catch (const std::exception& e) {  // no thread: nothing runs, nothing stays claimed
    publish_running = false;
    publish_jobs.pop_back();
    uploads.release(ids, false);
    return error_response(500, std::string("cannot start publishing: ") + e.what());
  }
  return json_response(202, json{{"job", job->id}, {"url", "/api/seedbank/releases/jobs/" + job->id}});
}

// GET /api/seedbank/releases/jobs/JOB: {state: "hashing" | "storing" |
// "done" | "failed", done, total, result | error}.
HttpResponse Api::Impl::publish_job(const HttpRequest& request, const std::string& id) {
  if (auto r = foreign(request, "see this node's publishing")) return *r;
  std::lock_guard lock(publish_mutex);
  for (const auto& job : publish_jobs) {
    if (job->id != id) continue;
    std::string state = job->finished                           ? (job->error.empty() ? "done" : "failed")
                        : job->total && job->done >= job->total ? "storing"
                                                                : "hashing";
    json out = {{"job", job->id}, {"state", state}, {"done", job->done}, {"total", job->total}};
    if (job->finished && job->error.empty()) out["result"] = job->result;
    if (!job->error.empty()) {
      out["error"] = job->error;
      out["status"] = job->status;
    }
    return json_response(200, out);
  }
  return error_response(404, "no publish job " + id.substr(0, 40) + " on this node (it keeps the last " +
                                 std::to_string(kMaxPublishJobs) + ")");
}

}  // namespace seedbank::node
