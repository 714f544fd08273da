#include "seedbank/protocol/model_format.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <string_view>

using namespace seedbank::protocol;

namespace {

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

void append_le(Bytes& out, std::uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

Bytes safetensors_start() {
  std::string_view json = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  Bytes out;
  append_le(out, json.size(), 8);
  out.insert(out.end(), json.begin(), json.end());
  out.push_back(0);
  return out;
}

// A zip local file header for a stored entry, followed by its data.
void append_zip_entry(Bytes& out, std::string_view name, std::string_view data) {
  append_le(out, 0x04034b50, 4);   // signature
  append_le(out, 20, 2);           // version needed
  append_le(out, 0, 2);            // flags
  append_le(out, 0, 2);            // method: stored
  append_le(out, 0, 4);            // time, date
  append_le(out, 0, 4);            // crc-32 (not checked)
  append_le(out, data.size(), 4);  // compressed size
  append_le(out, data.size(), 4);  // uncompressed size
  append_le(out, name.size(), 2);
  append_le(out, 0, 2);  // extra length
  out.insert(out.end(), name.begin(), name.end());
  out.insert(out.end(), data.begin(), data.end());
}

bool contains(const std::string& detail, std::string_view part) {
  if (detail.find(part) != std::string::npos) return true;
  BOOST_TEST_MESSAGE("detail lacks \"" << part << "\": " << detail);
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(model_format_test)

BOOST_AUTO_TEST_CASE(detects_safetensors_by_content) {
  FormatDetection d = detect_model_format(safetensors_start(), "model.safetensors");
  BOOST_TEST((d.format == ModelFileFormat::safetensors));
  BOOST_TEST(!d.unsafe);
  BOOST_TEST(contains(d.detail, "runs no code"));

  // Content beats the name, and the mismatch is reported.
  d = detect_model_format(safetensors_start(), "model.ckpt");
  BOOST_TEST((d.format == ModelFileFormat::safetensors));
  BOOST_TEST(!d.unsafe);
  BOOST_TEST(contains(d.detail, "despite the .ckpt name"));
  BOOST_TEST(contains(d.detail, "rename it to .safetensors"));

  // A length beyond the header limit is not safetensors, even before a '{'.
  Bytes bogus(8, 0xff);
  bogus.push_back('{');
  BOOST_TEST((detect_model_format(bogus, "x.safetensors").format == ModelFileFormat::unknown));
}

BOOST_AUTO_TEST_CASE(detects_gguf) {
  Bytes file = bytes_of("GGUF");
  append_le(file, 3, 4);
  append_le(file, 0, 8);
  FormatDetection d = detect_model_format(file, "llm.gguf");
  BOOST_TEST((d.format == ModelFileFormat::gguf));
  BOOST_TEST(!d.unsafe);
  BOOST_TEST(contains(d.detail, "GGUF file (version 3)"));
}

BOOST_AUTO_TEST_CASE(detects_pytorch_zip_checkpoints) {
  Bytes file;
  append_zip_entry(file, "archive/data.pkl", "\x80\x02}q\x00.");
  append_zip_entry(file, "archive/data/0", "abcd");
  FormatDetection d = detect_model_format(file, "model.ckpt");
  BOOST_TEST((d.format == ModelFileFormat::pickle));
  BOOST_TEST(d.unsafe);
  BOOST_TEST(contains(d.detail, "PyTorch zip archive with archive/data.pkl"));
  BOOST_TEST(contains(d.detail, "pickle code"));

  // The pickle entry need not come first.
  Bytes second;
  append_zip_entry(second, "model/version", "3\n");
  append_zip_entry(second, "model/data.pkl", "\x80\x02.");
  d = detect_model_format(second, "weights.pt");
  BOOST_TEST(d.unsafe);
  BOOST_TEST(contains(d.detail, "model/data.pkl"));
}

BOOST_AUTO_TEST_CASE(names_other_zip_archives) {
  Bytes file;
  append_zip_entry(file, "readme.txt", "hello");
  FormatDetection d = detect_model_format(file, "bundle.zip");
  BOOST_TEST((d.format == ModelFileFormat::unknown));
  BOOST_TEST(!d.unsafe);
  BOOST_TEST(contains(d.detail, "zip archive"));
  BOOST_TEST(contains(d.detail, "readme.txt"));

  // Named like a checkpoint: PyTorch would unpickle it, so assume the worst.
  d = detect_model_format(file, "model.pth");
  BOOST_TEST((d.format == ModelFileFormat::pickle));
  BOOST_TEST(d.unsafe);
  BOOST_TEST(contains(d.detail, "zip archive"));
}

BOOST_AUTO_TEST_CASE(detects_raw_pickles) {
  Bytes pickle = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8};
  FormatDetection d = detect_model_format(pickle, "old.ckpt");
  BOOST_TEST((d.format == ModelFileFormat::pickle));
  BOOST_TEST(d.unsafe);
  BOOST_TEST(contains(d.detail, "Python pickle (protocol 2)"));

  Bytes protocol6 = {0x80, 0x06, 0x95};  // not a protocol that exists
  BOOST_TEST((detect_model_format(protocol6, "x.dat").format == ModelFileFormat::unknown));
}

BOOST_AUTO_TEST_CASE(reports_a_pickle_named_safetensors) {
  Bytes pickle = {0x80, 0x04, 0x95, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, '}'};
  FormatDetection d = detect_model_format(pickle, "dir/innocent.safetensors");
  BOOST_TEST((d.format == ModelFileFormat::pickle));
  BOOST_TEST(d.unsafe);
  BOOST_TEST(contains(d.detail, "Python pickle (protocol 4) despite the .safetensors name"));
  BOOST_TEST(contains(d.detail, "convert it to safetensors"));
}

BOOST_AUTO_TEST_CASE(treats_unrecognised_legacy_checkpoints_as_pickle) {
  Bytes odd = {0x01, 0x02, 0x03, 0x04};
  FormatDetection d = detect_model_format(odd, "MODEL.PT");
  BOOST_TEST((d.format == ModelFileFormat::pickle));
  BOOST_TEST(d.unsafe);
  BOOST_TEST(contains(d.detail, "named .pt"));

  d = detect_model_format(odd, "notes.txt");
  BOOST_TEST((d.format == ModelFileFormat::unknown));
  BOOST_TEST(!d.unsafe);
  BOOST_TEST(contains(d.detail, "starts with bytes 01020304"));
}

// The first kFormatSniffBytes of a longer file: `head`, then `repeat`
// until the prefix is full (no STOP in sight).
std::string long_prefix(const std::string& head, const std::string& repeat) {
  std::string out = head;
  while (out.size() < kFormatSniffBytes) out += repeat;
  out.resize(kFormatSniffBytes);
  return out;
}

BOOST_AUTO_TEST_CASE(detects_protocol_0_and_1_pickles_by_their_opcodes) {
  // What Python's pickle.dumps writes with protocol=0 and 1 (no magic): a
  // dict, a list of scalars, and the classic code-running __reduce__.
  for (const std::string& pickle : {std::string("(dp0\nVa\np1\nI1\ns."),
                                    std::string("}q\x00X\x01\x00\x00\x00"
                                                "aq\x01K\x01s.",
                                                15),
                                    std::string("cposix\nsystem\np0\n(Vecho hi\np1\ntp2\nRp3\n."),
                                    std::string("(lp0\nF1.5\naVx\np1\naNaI01\naL1000000000000000000000000000000L\na."),
                                    long_prefix("(dp0\n", "S'layer.weight'\nI1\ns"),  // cut mid-line by the prefix
                                    long_prefix("cposix\nsystem\np0\n(V", "a prompt ")}) {
    BOOST_TEST_CONTEXT(pickle) {
      FormatDetection d = detect_model_format(bytes_of(pickle), "weights.dat");
      BOOST_TEST((d.format == ModelFileFormat::pickle));
      BOOST_TEST(d.unsafe);
      BOOST_TEST(contains(d.detail, "Python pickle (protocol 0 or 1)"));
    }
  }
  // Text and other formats are not taken for one.
  for (const std::string& other :
       {std::string("hello world\n"), std::string("{\"a\": 1}"), std::string("model:\n  name: x\n"),
        std::string("I love\nThe cat\n"), std::string("# README\n"), std::string("(hello)"), std::string("Sure\n"),
        std::string("The quick brown fox"), std::string("(dp0\nS'no stop'\n"), long_prefix("(", "hello world "),
        std::string("0.5,0.25\n"), std::string("1.0\n"), std::string("e.g. this"), std::string("a."),
        std::string("1. Install"), std::string("(N."), std::string("NN."), std::string("(l0.")}) {
    BOOST_TEST_CONTEXT(other) {
      BOOST_TEST((detect_model_format(bytes_of(other), "notes.dat").format == ModelFileFormat::unknown));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_name_that_disagrees_with_the_content_is_mislabeled_naming_what_it_is) {
  auto text = detect_model_format(bytes_of("just some notes\n"), "model.safetensors");
  BOOST_TEST(text.mislabeled);
  BOOST_TEST(contains(text.detail, "it is text"));
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
  auto image = detect_model_format(png, "model.safetensors");
  BOOST_TEST(image.mislabeled);
  BOOST_TEST(contains(image.detail, "it is a PNG image"));
  auto pickle = detect_model_format(bytes_of("cposix\nsystem\np0\n(Vecho hi\np1\ntp2\nRp3\n."), "m.safetensors");
  BOOST_TEST(pickle.mislabeled);
  BOOST_TEST(contains(pickle.detail, "despite the .safetensors name"));
  // A zip archive without a pickle is no safetensors file either.
  Bytes zip = {'P', 'K', 3, 4, 20, 0, 0, 0, 0, 0, 0, 0, 0,   0,   0,   0,   0,  0,
               0,   0,   0, 0, 0,  0, 0, 0, 5, 0, 0, 0, 'a', '.', 't', 'x', 't'};
  auto archive = detect_model_format(zip, "m.safetensors");
  BOOST_TEST(archive.mislabeled);
  BOOST_TEST(contains(archive.detail, "zip archive"));
  // Names that agree, or claim nothing, are not.
  BOOST_TEST(!detect_model_format(bytes_of("(dp0\nVa\np1\nI1\ns."), "old.ckpt").mislabeled);
  BOOST_TEST(!detect_model_format(bytes_of("just some notes\n"), "README.md").mislabeled);
}

BOOST_AUTO_TEST_CASE(detects_onnx_by_name_and_protobuf_start) {
  Bytes onnx = {0x08, 0x07, 0x12, 0x07, 'p', 'y', 't', 'o', 'r', 'c', 'h'};
  FormatDetection d = detect_model_format(onnx, "unet.onnx");
  BOOST_TEST((d.format == ModelFileFormat::onnx));
  BOOST_TEST(!d.unsafe);
  BOOST_TEST(contains(d.detail, "IR version 7"));

  // The same bytes without the name are too weak a signature.
  BOOST_TEST((detect_model_format(onnx, "unet.dat").format == ModelFileFormat::unknown));

  d = detect_model_format(bytes_of("garbage"), "unet.onnx");
  BOOST_TEST((d.format == ModelFileFormat::unknown));
  BOOST_TEST(contains(d.detail, "ONNX"));
}

BOOST_AUTO_TEST_CASE(reports_broken_files_named_as_safe_formats) {
  FormatDetection d = detect_model_format(bytes_of("<html>404</html>"), "model.safetensors");
  BOOST_TEST((d.format == ModelFileFormat::unknown));
  BOOST_TEST(!d.unsafe);
  BOOST_TEST(contains(d.detail, "does not start like a safetensors file"));

  d = detect_model_format({}, "model.safetensors");
  BOOST_TEST((d.format == ModelFileFormat::unknown));
  BOOST_TEST(contains(d.detail, "empty"));
}

BOOST_AUTO_TEST_CASE(format_names) {
  BOOST_TEST(to_string(ModelFileFormat::safetensors) == "safetensors");
  BOOST_TEST(to_string(ModelFileFormat::pickle) == "pickle");
  BOOST_TEST(to_string(ModelFileFormat::gguf) == "gguf");
  BOOST_TEST(to_string(ModelFileFormat::onnx) == "onnx");
  BOOST_TEST(to_string(ModelFileFormat::unknown) == "unknown");
}

BOOST_AUTO_TEST_SUITE_END()
