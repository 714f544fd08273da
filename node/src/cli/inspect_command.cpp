// seedbank inspect FILE... [--json] [--full]

#include <iostream>
#include <map>

#include "../files.h"
#include "cli.h"
#include "seedbank/node/progress.h"
#include "seedbank/protocol/generation_params.h"
#include "seedbank/protocol/image_meta.h"
#include "seedbank/protocol/model_format.h"
#include "seedbank/protocol/safetensors.h"
#include "views.h"

namespace seedbank::node::cli {
namespace {

namespace p = seedbank::protocol;

struct InspectArgs {
  std::vector<std::string> files;
  bool json = false;
  bool full = false;
};

bool looks_like_image(p::ByteView b) {
  auto starts = [&](std::string_view magic, std::size_t at = 0) {
    if (b.size() < at + magic.size()) return false;
    for (std::size_t i = 0; i < magic.size(); ++i)
      if (b[at + i] != static_cast<std::uint8_t>(magic[i])) return false;
    return true;
  };
  return starts("\x89PNG\r\n\x1a\n") || starts("\xff\xd8\xff") || (starts("RIFF") && starts("WEBP", 8)) ||
         starts("ftyp", 4) || starts("\x1a\x45\xdf\xa3");  // MP4, WebM: videos read as images are
}

std::string clip(const std::string& s, bool full, std::size_t n = 160) {
  if (full || s.size() <= n) return s;
  return s.substr(0, n) + "... (" + std::to_string(s.size()) + " bytes; --full shows all)";
}

nlohmann::ordered_json inspect_image(const std::string& path, const InspectArgs& args, int* status) {
  auto info = p::read_image_file(path);
  if (!info) {
    *status = report(info.error());
    return {{"file", path}, {"error", info.error().message}};
  }
  nlohmann::ordered_json out = {{"file", path},
                                {"kind", p::is_video_type(info->mime_type) ? "video" : "image"},
                                {"mimeType", info->mime_type},
                                {"width", info->width},
                                {"height", info->height}};
  nlohmann::ordered_json text = nlohmann::ordered_json::object();
  for (const auto& [k, v] : info->text) text[k] = v;
  out["text"] = text;
  auto gen = p::generation_params_from_image(*info);
  out["meta"] = gen ? generation_meta_json(*gen) : nlohmann::ordered_json(nullptr);
  if (!args.json) {
    std::cout << path << ": " << info->mime_type << ", " << info->width << "x" << info->height << "\n";
    if (!gen) {
      std::cout << "  no generation parameters found\n";
    } else {
      for (auto& [k, v] : out["meta"].items())
        std::cout << "  " << k << ": " << clip(v.is_string() ? v.get<std::string>() : v.dump(), args.full) << "\n";
    }
  }
  return out;
}

nlohmann::ordered_json inspect_model(const std::string& path, const p::Bytes& prefix, const InspectArgs& args,
                                     int* status) {
  auto detection = p::detect_model_format(prefix, std::filesystem::path(path).filename().string());
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  nlohmann::ordered_json out = {{"file", path},
                                {"kind", "model"},
                                {"size", size},
                                {"format", std::string(p::to_string(detection.format))},
                                {"unsafe", detection.unsafe},
                                {"mislabeled", detection.mislabeled},
                                {"detail", detection.detail}};
  if (!args.json) {
    std::cout << path << ": " << p::to_string(detection.format) << ", " << size << " bytes (" << human_bytes(size)
              << ")\n";
    if (!detection.detail.empty())
      std::cout << "  "
                << (detection.unsafe       ? "UNSAFE: "
                    : detection.mislabeled ? "MISLABELED: "
                                           : "")
                << detection.detail << "\n";
  }
  if (detection.format != p::ModelFileFormat::safetensors) return out;

  auto header = p::read_safetensors_header(path);
  if (!header) {
    *status = report(header.error());
    out["error"] = header.error().message;
    return out;
  }
  std::map<std::string, std::size_t> dtypes;
  long double params = 0;
  for (const auto& t : header->tensors) {
    ++dtypes[t.dtype];
    long double n = 1;
    for (auto d : t.shape) n *= static_cast<long double>(d);
    params += n;
  }
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  for (const auto& [k, v] : header->metadata) meta[k] = v;
  auto hints = p::derive_model_hints(*header);
  out["safetensors"] = {{"headerLength", header->header_length},
                        {"dataOffset", header->data_offset},
                        {"tensorCount", header->tensors.size()},
                        {"parameterCount", static_cast<double>(params)},
                        {"dtypes", dtypes},
                        {"metadata", meta}};
  out["hints"] = model_hints_json(hints);
  if (!args.json) {
    std::cout << "  header: " << header->header_length << " bytes; tensor data from offset " << header->data_offset
              << "\n  tensors: " << header->tensors.size() << " (";
    bool first = true;
    for (const auto& [dt, n] : dtypes) {
      std::cout << (first ? "" : ", ") << dt << " x" << n;
      first = false;
    }
    char pbuf[32];
    std::snprintf(pbuf, sizeof pbuf, "%.1f M", static_cast<double>(params) / 1e6);
    std::cout << "), " << pbuf << " parameters\n";
    for (auto& [k, v] : out["hints"].items())
      std::cout << "  " << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
    if (!header->metadata.empty()) std::cout << "  metadata (" << header->metadata.size() << " keys):\n";
    for (const auto& [k, v] : header->metadata) std::cout << "    " << k << " = " << clip(v, args.full) << "\n";
  }
  return out;
}

int run(const InspectArgs& args) {
  int status = kOk;
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const auto& file : args.files) {
    if (auto st = check_regular_file(file); !st) {  // before opening: a FIFO would block
      status = report(st.error());
      all.push_back({{"file", file}, {"error", st.error().message}});
      continue;
    }
    auto prefix = p::read_file_prefix(file);
    if (!prefix) {
      status = report(prefix.error());
      all.push_back({{"file", file}, {"error", prefix.error().message}});
      continue;
    }
    if (looks_like_image(*prefix))
      all.push_back(inspect_image(file, args, &status));
    else
      all.push_back(inspect_model(file, *prefix, args, &status));
  }
  if (args.json) print_json(args.files.size() == 1 ? all[0] : all);
  return status;
}

}  // namespace

void add_inspect_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<InspectArgs>();
  auto* cmd = app.add_subcommand("inspect", "Show what a model file or sample image says about itself");
  cmd->footer(
      "Models: the format (safetensors, pickle, GGUF, ONNX); pickle-based files (.ckpt, .pt,\n"
      "  .bin) are flagged UNSAFE: loading them can run code. For safetensors, the header\n"
      "  is validated and summarised, __metadata__ is printed (kohya ss_* training keys,\n"
      "  modelspec.*), and the type, base model, resolution and trigger words derived from it.\n"
      "Images (PNG, JPEG, WebP): size and the generation parameters embedded by\n"
      "  AUTOMATIC1111 (PNG 'parameters' text, EXIF UserComment) or ComfyUI (prompt/workflow).\n"
      "--json prints one object (an array for several files).");
  cmd->add_option("files", args->files, "Model files or images")->required();
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->add_flag("--full", args->full, "Do not shorten long metadata values");
  cmd->callback([args, &ctx] { ctx.exit_code = run(*args); });
}

}  // namespace seedbank::node::cli
