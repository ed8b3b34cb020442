// Mouth ROI (frontend/mouth_roi.h) and landmark files (frontend/landmarks.h). The OpenCV modes run on a synthetic
// face video (tools/synth/face_renderer.h) whose landmarks and mouth opening are known, so the crops can be checked
// against what was drawn: the mouth sits near the crop centre, its darkness follows the drawn opening, and crops
// by landmarks do not change when the head turns, grows or moves.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mome/core/error.h"
#include "mome/data/clip_source.h"
#include "mome/data/prepared.h"
#include "mome/frontend/landmarks.h"
#include "mome/frontend/mouth_roi.h"
#include "test_helpers.h"

#ifdef MOME_WITH_MEDIA
#include "synth/face_renderer.h"
#endif

namespace mome {
namespace {
namespace fs = std::filesystem;

class MouthRoi : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/mome_roi_" + std::to_string(::getpid());
    testing::RemoveTree(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { testing::RemoveTree(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
    return dir_ + "/" + name;
  }
  std::string dir_;
};

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

nlohmann::json FrameJson(float offset) {
  nlohmann::json frame = nlohmann::json::array();
  for (int i = 0; i < 68; ++i) frame.push_back({offset + i, 2.0f * i});
  return frame;
}

TEST_F(MouthRoi, LandmarkFilesParseInterpolateAndNameTheirErrors) {
  const std::string json =
      Write("a.json", nlohmann::json{{"fps", 30}, {"frames", {FrameJson(0), nullptr, FrameJson(10)}}}.dump());
  const auto track = frontend::ReadLandmarks(json);
  EXPECT_EQ(track.points.sizes(), (std::vector<int64_t>{3, 68, 2}));
  EXPECT_DOUBLE_EQ(track.fps, 30);
  EXPECT_TRUE(track.points[1].isnan().all().item<bool>());
  const auto filled = frontend::InterpolateLandmarks(track.points, json);
  EXPECT_FLOAT_EQ(filled[1][5][0].item<float>(), 10.0f);  // halfway between 5 and 15
  EXPECT_FLOAT_EQ(filled[1][5][1].item<float>(), 10.0f);

  std::string text = "# x0 y0 ... x67 y67\n-\n";
  for (int i = 0; i < 68; ++i) text += std::to_string(i) + " " + std::to_string(2 * i) + " ";
  const auto t = frontend::ReadLandmarks(Write("b.txt", text + "\n"));
  EXPECT_EQ(t.points.size(0), 2);
  EXPECT_FLOAT_EQ(frontend::InterpolateLandmarks(t.points, "b")[0][67][1].item<float>(), 134.0f);  // copied back

  nlohmann::json short_frame = FrameJson(0);
  short_frame.erase(short_frame.begin());
  const std::string bad = Write("bad.json", nlohmann::json::array({FrameJson(0), short_frame}).dump());
  const std::string e1 = ErrorOf([&] { frontend::ReadLandmarks(bad); });
  EXPECT_NE(e1.find("bad.json"), std::string::npos) << e1;
  EXPECT_NE(e1.find("frame 1"), std::string::npos) << e1;
  const std::string e2 = ErrorOf([&] { frontend::ReadLandmarks(Write("bad.txt", "1 2 three\n")); });
  EXPECT_NE(e2.find("bad.txt:1"), std::string::npos) << e2;
  const std::string e3 =
      ErrorOf([&] { frontend::InterpolateLandmarks(track.points.index({at::indexing::Slice(1, 2)}), "clip7"); });
  EXPECT_NE(e3.find("clip7"), std::string::npos) << e3;
}

TEST_F(MouthRoi, ConverterReadsAutoAvsrStylePickles) {
  // auto_avsr's pickles hold a list of (68, 2) arrays or None; plain lists pickle the same way without numpy.
  const std::string pkl = dir_ + "/lm.pkl";
  const auto make = testing::RunCommand(
      "python3 -c \"import pickle; pickle.dump([[[i, 2 * i] for i in range(68)], "
      "None], open('" +
      pkl + "', 'wb'))\"");
  ASSERT_EQ(make.exit_code, 0) << make.err;
  const std::string script = std::string(MOME_SOURCE_DIR) + "/tools/convert_landmarks.py ";
  const auto r = testing::RunCommand("python3 " + script + pkl + " " + dir_ + "/lm.json --fps 25");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto track = frontend::ReadLandmarks(dir_ + "/lm.json");
  EXPECT_EQ(track.points.size(0), 2);
  EXPECT_DOUBLE_EQ(track.fps, 25);
  EXPECT_FLOAT_EQ(track.points[0][67][1].item<float>(), 134.0f);
  EXPECT_TRUE(track.points[1].isnan().all().item<bool>());
  const auto bad = testing::RunCommand("python3 " + script + dir_ + "/missing.pkl " + dir_ + "/x.json");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("missing.pkl"), std::string::npos) << bad.err;
}

TEST_F(MouthRoi, SmoothingKeepsEachCentroidAndRatesMapLikeTheDecoder) {
  torch::manual_seed(0);
  const at::Tensor points = at::randn({20, 68, 2}) * 5 + 100;
  const at::Tensor smooth = frontend::SmoothLandmarks(points, 6);
  EXPECT_TRUE(at::allclose(smooth.mean(1), points.mean(1), 1e-4, 1e-3));
  EXPECT_TRUE(at::equal(smooth[0], points[0]));  // margin shrinks to 0 at the ends
  EXPECT_LT((smooth - smooth.mean(1, true)).std().item<double>(), (points - points.mean(1, true)).std().item<double>());

  // 30 landmark frames at 30 fps (value = frame index) onto 25 output frames: slot n shows the last k with
  // k * 25 / 30 < n + 0.5.
  frontend::LandmarkTrack track;
  track.points = at::arange(30, at::kFloat).view({30, 1, 1}).expand({30, 68, 2}).contiguous();
  const at::Tensor aligned = frontend::AlignLandmarks(track, 25, 25.0, 30.0, "clip");
  for (int64_t n = 0; n < 25; ++n) {
    int64_t expected = 0;
    for (int64_t k = 0; k < 30; ++k)
      if (std::llround(k * 25.0 / 30.0) <= n) expected = k;
    EXPECT_EQ(aligned[n][0][0].item<float>(), static_cast<float>(expected)) << n;
  }
  const std::string e = ErrorOf([&] { frontend::AlignLandmarks(track, 40, 25.0, 30.0, "short.json"); });
  EXPECT_NE(e.find("short.json"), std::string::npos) << e;
  EXPECT_NE(e.find("cover"), std::string::npos) << e;
}

TEST_F(MouthRoi, BadSettingsAndFramesAreOneClearError) {
  frontend::MouthRoiOptions o;
  o.mode = "magic";
  EXPECT_NE(ErrorOf([&] { frontend::ValidateMouthRoi(o); }).find("magic"), std::string::npos);
  o.mode = "precropped";
  const std::string e = ErrorOf([&] { frontend::CropMouths(at::zeros({3, 64, 64}, at::kByte), o, "face.mp4"); });
  EXPECT_NE(e.find("face.mp4"), std::string::npos) << e;
  EXPECT_NE(e.find("96x96"), std::string::npos) << e;
  const at::Tensor crops = at::randint(0, 255, {2, 96, 96}, at::kByte);
  EXPECT_TRUE(at::equal(frontend::CropMouths(crops, o, "x"), crops));
  if (!frontend::MouthRoiAvailable()) {
    o.mode = "detect";
    EXPECT_NE(ErrorOf([&] { frontend::ValidateMouthRoi(o); }).find("OpenCV"), std::string::npos);
  }
}

#ifdef MOME_WITH_MEDIA

struct FaceVideo {
  at::Tensor frames;     // [T, H, W] uint8
  at::Tensor landmarks;  // [T, 68, 2]
  std::vector<double> open;
};

// A face moving right and growing while it talks; frames in `blank` have no face at all.
FaceVideo RenderFaceVideo(int64_t n, double roll, const std::vector<int64_t>& blank) {
  FaceVideo v;
  v.frames = at::empty({n, 200, 240}, at::kByte);
  v.landmarks = at::empty({n, 68, 2});
  for (int64_t t = 0; t < n; ++t) {
    cv::Mat frame(200, 240, CV_8UC1, v.frames[t].data_ptr<uint8_t>());
    synth::FacePose pose;
    pose.cx = 90 + 1.5 * static_cast<double>(t);
    pose.cy = 100;
    pose.width = 95 + 0.5 * static_cast<double>(t);
    pose.roll_degrees = roll;
    synth::FaceLook look;
    look.mouth_open = 0.5 + 0.5 * std::sin(0.45 * static_cast<double>(t));
    v.open.push_back(look.mouth_open);
    frame.setTo(look.background);
    const auto lm = std::find(blank.begin(), blank.end(), t) != blank.end()
                        ? synth::FaceLandmarksFor(pose, look.mouth_open)
                        : synth::DrawFace(frame, pose, look);
    for (int i = 0; i < 68; ++i) {
      v.landmarks[t][i][0] = lm[static_cast<size_t>(i)].x;
      v.landmarks[t][i][1] = lm[static_cast<size_t>(i)].y;
    }
  }
  return v;
}

// Pixels darker than the lips' inside, per crop, and their centroid: the open mouth is the only such blob low in
// the face.
double Correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const auto ta = at::tensor(a, at::kDouble), tb = at::tensor(b, at::kDouble);
  const auto ca = ta - ta.mean(), cb = tb - tb.mean();
  return ((ca * cb).sum() / (ca.norm() * cb.norm())).item<double>();
}

TEST_F(MouthRoi, DetectFindsTheMouthOfAMovingFace) {
  const FaceVideo v = RenderFaceVideo(40, 0.0, {7, 8, 23});
  frontend::MouthRoiOptions o;
  o.mode = "detect";
  const at::Tensor before = v.frames.clone();
  const at::Tensor crops = frontend::CropMouths(v.frames, o, "face");
  EXPECT_TRUE(at::equal(before, v.frames)) << "detection must not touch the caller's frames";
  ASSERT_EQ(crops.sizes(), (std::vector<int64_t>{40, 96, 96}));
  std::vector<double> dark, open;
  for (int64_t t = 0; t < 40; ++t) {
    if (t == 7 || t == 8 || t == 23) continue;  // no face drawn: the box is interpolated, nothing to see
    const at::Tensor mask = crops[t].lt(60);
    dark.push_back(mask.sum().item<double>());
    open.push_back(v.open[static_cast<size_t>(t)]);
    ASSERT_GT(dark.back(), 10) << "frame " << t << ": no mouth in the crop";
    const auto nz = mask.nonzero().to(at::kFloat).mean(0);
    EXPECT_NEAR(nz[0].item<float>(), 48.f, 14.f) << "frame " << t;  // row
    EXPECT_NEAR(nz[1].item<float>(), 48.f, 10.f) << "frame " << t;  // column
  }
  EXPECT_GT(Correlation(dark, open), 0.9);
}

TEST_F(MouthRoi, LandmarkCropsDoNotDependOnHeadPose) {
  const FaceVideo upright = RenderFaceVideo(12, 0.0, {});
  const FaceVideo turned = RenderFaceVideo(12, 14.0, {});
  frontend::MouthRoiOptions o;
  o.mode = "landmarks";
  o.landmark_margin = 0;  // the face moves every frame: compare frame by frame
  const at::Tensor a = frontend::CropMouths(upright.frames, o, "a", upright.landmarks).to(at::kFloat);
  const at::Tensor b = frontend::CropMouths(turned.frames, o, "b", turned.landmarks).to(at::kFloat);
  // Same mouth, other pose: nearly the same crop. Other mouth opening (frames 3 vs 6), same pose: clearly not.
  const double same = (a - b).abs().mean().item<double>();
  const double other = (a[3] - a[6]).abs().mean().item<double>();
  EXPECT_LT(same, 4.0);
  EXPECT_GT(other, 3 * same);
  // The mouth is centred: the darkest blob's centroid at the middle.
  const auto nz = a[3].lt(60).nonzero().to(at::kFloat).mean(0);
  EXPECT_NEAR(nz[0].item<float>(), 48.f, 4.f);
  EXPECT_NEAR(nz[1].item<float>(), 48.f, 4.f);
}

TEST_F(MouthRoi, ModesRunFromFilesThroughLoadClipAndPrepare) {
  const FaceVideo v = RenderFaceVideo(30, 5.0, {});
  const std::string raw = dir_ + "/face.gray";
  std::ofstream(raw, std::ios::binary)
      .write(reinterpret_cast<const char*>(v.frames.data_ptr<uint8_t>()),
             static_cast<std::streamsize>(v.frames.numel()));
  const auto r =
      testing::RunCommand("ffmpeg -nostdin -v error -y -f rawvideo -pix_fmt gray -s 240x200 -r 25 -i " + raw +
                          " -f lavfi -i sine=frequency=300:sample_rate=16000:duration=1.2 -c:v libx264 -qp 0 " +
                          "-pix_fmt yuv444p -c:a aac -shortest " + dir_ + "/face.mp4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json frames = nlohmann::json::array();
  for (int64_t t = 0; t < 30; ++t) {
    nlohmann::json f = nlohmann::json::array();
    for (int i = 0; i < 68; ++i) f.push_back({v.landmarks[t][i][0].item<float>(), v.landmarks[t][i][1].item<float>()});
    frames.push_back(t == 4 ? nlohmann::json() : f);  // one frame without a face
  }
  std::ofstream(dir_ + "/face.landmarks.json") << nlohmann::json{{"frames", frames}}.dump();

  data::CorpusItem item = data::ItemForFile(dir_ + "/face.mp4");
  data::ClipSourceOptions o;
  o.audio = false;
  for (const char* mode : {"detect", "landmarks"}) {
    o.roi.mode = mode;
    const auto clip = data::LoadClip(item, o);
    EXPECT_EQ(clip.video.sizes(), (std::vector<int64_t>{30, 96, 96})) << mode;
  }
  o.roi.mode = "precropped";
  EXPECT_NE(ErrorOf([&] { data::LoadClip(item, o); }).find("--roi detect"), std::string::npos);

  // No face anywhere: one line naming the file.
  const auto blank = testing::RunCommand(
      "ffmpeg -nostdin -v error -y -f lavfi -i color=c=gray:s=160x120:r=25:d=1 "
      "-c:v libx264 " +
      dir_ + "/blank.mp4");
  ASSERT_EQ(blank.exit_code, 0) << blank.err;
  o.roi.mode = "detect";
  const std::string e = ErrorOf([&] { data::LoadClip(data::ItemForFile(dir_ + "/blank.mp4"), o); });
  EXPECT_NE(e.find("blank.mp4"), std::string::npos) << e;
  EXPECT_NE(e.find("no face found"), std::string::npos) << e;
  o.roi.mode = "landmarks";
  EXPECT_NE(ErrorOf([&] { data::LoadClip(data::ItemForFile(dir_ + "/blank.mp4"), o); }).find("landmark file"),
            std::string::npos);

  // mome_prepare on a manifest naming the landmark file: the shard holds the landmark crops.
  fs::rename(dir_ + "/face.landmarks.json", dir_ + "/lm.json");
  std::ofstream(dir_ + "/list.jsonl")
      << nlohmann::json{{"key", "spk/face"}, {"video", "face.mp4"}, {"text", "HELLO"}, {"landmarks", "lm.json"}}.dump()
      << "\n";
  const auto p = testing::RunCommand(std::string(MOME_TOOL_DIR) + "/mome_prepare --corpus manifest --root " + dir_ +
                                     "/list.jsonl --roi landmarks --out " + dir_ + "/prepared");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  std::ifstream manifest(dir_ + "/prepared/manifest.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(manifest, line)) << p.err;
  EXPECT_EQ(nlohmann::json::parse(line)["n_frames"].get<int64_t>(), 30);
}

TEST_F(MouthRoi, SynthFacesCropToTheirRenderedMouths) {
  // The same seed renders the same mouth track as 96x96 crops and inside a moving whole face; crops found in the
  // face by detection and by landmarks must follow the mouth crops' darkness (the open mouth) over time.
  const std::string tools = MOME_TOOL_DIR;
  for (const char* face : {"", " --face"}) {
    const auto r = testing::RunCommand(tools + "/mome_synth --out " + dir_ + "/synth" + (*face ? "_face" : "") +
                                       " --count 2 --split test --seed 3 --threads 2" + face);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto prepare = [&](const std::string& root, const std::string& roi) {
    const std::string out = dir_ + "/prepared_" + roi;
    const auto r = testing::RunCommand(tools + "/mome_prepare --corpus lrs3 --root " + root + " --split test --roi " +
                                       roi + " --out " + out);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return data::PreparedCorpus::Open(out);
  };
  const auto crops = prepare(dir_ + "/synth", "precropped");
  ASSERT_EQ(crops.size(), 2u);
  for (const std::string roi : {"detect", "landmarks"}) {
    const auto found = prepare(dir_ + "/synth_face", roi);
    ASSERT_EQ(found.size(), 2u) << roi;
    for (size_t i = 0; i < 2; ++i) {
      const auto a = crops.Load(i), b = found.Load(i);
      ASSERT_EQ(a.video.size(0), b.video.size(0));
      const auto darkness = [](const at::Tensor& v) {
        const at::Tensor centre = v.slice(1, 24, 72).slice(2, 24, 72).to(at::kDouble);
        const at::Tensor d = centre.lt(70).to(at::kDouble).mean({1, 2});
        return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
      };
      EXPECT_GT(Correlation(darkness(a.video), darkness(b.video)), 0.8) << roi << " clip " << i;
    }
  }
}

#endif

}  // namespace
}  // namespace mome
