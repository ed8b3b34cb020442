// DecodeMedia through FFmpeg (libavformat demuxing, libavcodec decoding, libswresample audio, libswscale video).
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <ATen/ATen.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "mome/core/error.h"
#include "mome/io/media.h"

namespace mome::io {
namespace {

std::string AvError(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, buf, sizeof(buf));
  return buf;
}

struct FormatCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct CodecCloser {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFreer {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFreer {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwrFreer {
  void operator()(SwrContext* s) const { swr_free(&s); }
};
struct SwsFreer {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
using FramePtr = std::unique_ptr<AVFrame, FrameFreer>;

std::unique_ptr<AVCodecContext, CodecCloser> OpenDecoder(AVFormatContext* fmt, int stream, const std::string& path) {
  const AVCodecParameters* par = fmt->streams[stream]->codecpar;
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  MOME_CHECK(codec != nullptr, ErrorCode::kUnsupported, path, ": no decoder for codec '",
             avcodec_get_name(par->codec_id), "' in this FFmpeg");
  std::unique_ptr<AVCodecContext, CodecCloser> ctx(avcodec_alloc_context3(codec));
  MOME_CHECK(ctx != nullptr, ErrorCode::kInternal, path, ": out of memory allocating a decoder");
  int rc = avcodec_parameters_to_context(ctx.get(), par);
  MOME_CHECK(rc >= 0, ErrorCode::kCorruptFile, path, ": bad codec parameters (", AvError(rc), ")");
  ctx->pkt_timebase = fmt->streams[stream]->time_base;
  ctx->thread_count = 1;  // callers decode clips in parallel; one thread each keeps that predictable
  rc = avcodec_open2(ctx.get(), codec, nullptr);
  MOME_CHECK(rc >= 0, ErrorCode::kCorruptFile, path, ": cannot open the ", avcodec_get_name(par->codec_id),
             " decoder (", AvError(rc), ")");
  return ctx;
}

// Audio: every decoded frame goes through swr into mono float at the target rate.
class AudioSink {
 public:
  AudioSink(const std::string& path, AVCodecContext* ctx, int64_t rate, double start_offset)
      : path_(path), rate_(rate) {
    AVChannelLayout mono;
    av_channel_layout_default(&mono, 1);
    AVChannelLayout in_layout;
    if (ctx->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || ctx->ch_layout.nb_channels <= 0)
      av_channel_layout_default(&in_layout, std::max(1, ctx->ch_layout.nb_channels));
    else
      av_channel_layout_copy(&in_layout, &ctx->ch_layout);
    SwrContext* swr = nullptr;
    int rc = swr_alloc_set_opts2(&swr, &mono, AV_SAMPLE_FMT_FLT, static_cast<int>(rate), &in_layout,
                                 ctx->sample_fmt, ctx->sample_rate, 0, nullptr);
    av_channel_layout_uninit(&in_layout);
    MOME_CHECK(rc >= 0 && swr != nullptr, ErrorCode::kCorruptFile, path, ": cannot set up audio resampling (",
               AvError(rc), ")");
    swr_.reset(swr);
    rc = swr_init(swr);
    MOME_CHECK(rc >= 0, ErrorCode::kCorruptFile, path, ": cannot set up audio resampling (", AvError(rc), ")");
    // A stream that starts after the container's start is preceded by silence; one that starts before is cut.
    const auto shift = static_cast<int64_t>(std::llround(start_offset * static_cast<double>(rate)));
    if (shift > 0) samples_.assign(static_cast<size_t>(std::min<int64_t>(shift, rate * 10)), 0.f);
    skip_ = shift < 0 ? -shift : 0;
  }

  void Add(const AVFrame* frame) {  // frame == nullptr flushes the resampler
    const int in_count = frame ? frame->nb_samples : 0;
    const int64_t in_rate = frame ? frame->sample_rate : rate_;
    const int out_max = static_cast<int>(av_rescale_rnd(swr_get_delay(swr_.get(), in_rate) + in_count, rate_,
                                                        in_rate, AV_ROUND_UP)) + 32;
    const size_t old = samples_.size();
    samples_.resize(old + static_cast<size_t>(out_max));
    auto* out = reinterpret_cast<uint8_t*>(samples_.data() + old);
    const int got = swr_convert(swr_.get(), &out, out_max, frame ? const_cast<const uint8_t**>(frame->extended_data) : nullptr,
                                in_count);
    MOME_CHECK(got >= 0, ErrorCode::kCorruptFile, path_, ": audio resampling failed (", AvError(got), ")");
    samples_.resize(old + static_cast<size_t>(got));
  }

  at::Tensor Finish() {
    Add(nullptr);
    const size_t skip = std::min(samples_.size(), static_cast<size_t>(skip_));
    const auto n = static_cast<int64_t>(samples_.size() - skip);
    auto t = at::empty({n}, at::kFloat);
    if (n > 0) std::memcpy(t.data_ptr<float>(), samples_.data() + skip, sizeof(float) * static_cast<size_t>(n));
    return t.clamp_(-1.f, 1.f);
  }

 private:
  std::string path_;
  int64_t rate_;
  int64_t skip_ = 0;
  std::unique_ptr<SwrContext, SwrFreer> swr_;
  std::vector<float> samples_;
};

// Video: frames converted to gray/RGB at the source size, then resampled to the output rate by timestamp.
class VideoSink {
 public:
  VideoSink(const std::string& path, double fps, bool rgb) : path_(path), fps_(fps), rgb_(rgb) {}

  void Add(const AVFrame* frame, double seconds) {
    if (width_ == 0) {
      width_ = frame->width;
      height_ = frame->height;
      MOME_CHECK(width_ > 0 && height_ > 0, ErrorCode::kCorruptFile, path_, ": video frame of size ", width_, "x",
                 height_);
    }
    MOME_CHECK(frame->width == width_ && frame->height == height_, ErrorCode::kUnsupported, path_,
               ": the video changes size mid-stream (", width_, "x", height_, " to ", frame->width, "x",
               frame->height, ")");
    const int64_t index = std::llround(seconds * fps_);  // the output slot this frame starts to show in
    // Output frames before this one show the previous source frame (or this one, at the very start).
    while (next_out_ < index) {
      Emit(last_.empty() ? Convert(frame) : last_);
      ++next_out_;
    }
    last_ = Convert(frame);
    last_index_ = index;
  }

  at::Tensor Finish(std::vector<double>* times) {
    if (!last_.empty() && next_out_ <= std::max<int64_t>(last_index_, 0)) {
      while (next_out_ <= last_index_) Emit(last_), ++next_out_;
      if (next_out_ == 0) Emit(last_), ++next_out_;
    }
    const auto count = static_cast<int64_t>(frames_.size());
    std::vector<int64_t> shape = {count, height_, width_};
    if (rgb_) shape.push_back(3);
    auto t = at::empty(shape, at::kByte);
    const size_t bytes = frame_bytes();
    for (int64_t i = 0; i < count; ++i) std::memcpy(t.data_ptr<uint8_t>() + i * bytes, frames_[i].data(), bytes);
    for (int64_t i = 0; i < count; ++i) times->push_back(static_cast<double>(i) / fps_);
    return t;
  }

 private:
  size_t frame_bytes() const { return static_cast<size_t>(width_) * height_ * (rgb_ ? 3 : 1); }

  std::vector<uint8_t> Convert(const AVFrame* frame) {
    sws_.reset(sws_getCachedContext(sws_.release(), width_, height_, static_cast<AVPixelFormat>(frame->format),
                                    width_, height_, rgb_ ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_GRAY8, SWS_BILINEAR,
                                    nullptr, nullptr, nullptr));
    MOME_CHECK(sws_ != nullptr, ErrorCode::kUnsupported, path_, ": cannot convert pixel format ",
               av_get_pix_fmt_name(static_cast<AVPixelFormat>(frame->format)));
    std::vector<uint8_t> out(frame_bytes());
    uint8_t* dst[4] = {out.data(), nullptr, nullptr, nullptr};
    int dst_stride[4] = {width_ * (rgb_ ? 3 : 1), 0, 0, 0};
    sws_scale(sws_.get(), frame->data, frame->linesize, 0, height_, dst, dst_stride);
    return out;
  }

  void Emit(const std::vector<uint8_t>& f) { frames_.push_back(f); }

  std::string path_;
  double fps_;
  bool rgb_;
  int width_ = 0, height_ = 0;
  int64_t next_out_ = 0, last_index_ = -1;
  std::vector<uint8_t> last_;
  std::vector<std::vector<uint8_t>> frames_;
  std::unique_ptr<SwsContext, SwsFreer> sws_;
};

double FrameSeconds(const AVFrame* frame, const AVStream* stream, double origin, int64_t* fallback_pts) {
  int64_t pts = frame->best_effort_timestamp;
  if (pts == AV_NOPTS_VALUE) pts = *fallback_pts;
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 36, 100)
  const int64_t duration = frame->duration;
#else
  const int64_t duration = frame->pkt_duration;  // AVFrame.duration came with FFmpeg 6
#endif
  *fallback_pts = pts + std::max<int64_t>(duration, 1);
  return static_cast<double>(pts) * av_q2d(stream->time_base) - origin;
}

}  // namespace

bool MediaDecodingAvailable() { return true; }

DecodedMedia DecodeMedia(const std::string& path, const MediaDecodeOptions& options) {
  MOME_CHECK(options.sample_rate > 0 && options.fps > 0, ErrorCode::kInvalidArgument, path,
             ": sample rate and fps must be positive");
  av_log_set_level(AV_LOG_FATAL);  // failures come back as one mome::Error line instead
  AVFormatContext* raw = nullptr;
  int rc = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  MOME_CHECK(rc >= 0, rc == AVERROR(ENOENT) ? ErrorCode::kNotFound : ErrorCode::kCorruptFile, path,
             ": cannot open media (", AvError(rc), ")");
  std::unique_ptr<AVFormatContext, FormatCloser> fmt(raw);
  rc = avformat_find_stream_info(fmt.get(), nullptr);
  MOME_CHECK(rc >= 0, ErrorCode::kCorruptFile, path, ": cannot read stream info (", AvError(rc), ")");

  const int audio_stream = options.audio ? av_find_best_stream(fmt.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0) : -1;
  const int video_stream = options.video ? av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0) : -1;
  MOME_CHECK(!options.require_audio || audio_stream >= 0, ErrorCode::kCorruptFile, path, ": no audio stream");
  MOME_CHECK(!options.require_video || video_stream >= 0, ErrorCode::kCorruptFile, path, ": no video stream");

  // Common time origin: the container's start time (both streams are shifted by it, which keeps them aligned).
  const double origin =
      fmt->start_time != AV_NOPTS_VALUE ? static_cast<double>(fmt->start_time) / AV_TIME_BASE : 0.0;
  auto stream_start = [&](int s) {
    const AVStream* st = fmt->streams[s];
    return st->start_time != AV_NOPTS_VALUE ? static_cast<double>(st->start_time) * av_q2d(st->time_base) - origin
                                            : 0.0;
  };

  std::unique_ptr<AVCodecContext, CodecCloser> audio_ctx, video_ctx;
  std::unique_ptr<AudioSink> audio;
  std::unique_ptr<VideoSink> video;
  if (audio_stream >= 0) {
    audio_ctx = OpenDecoder(fmt.get(), audio_stream, path);
    audio = std::make_unique<AudioSink>(path, audio_ctx.get(), options.sample_rate, stream_start(audio_stream));
  }
  if (video_stream >= 0) {
    video_ctx = OpenDecoder(fmt.get(), video_stream, path);
    video = std::make_unique<VideoSink>(path, options.fps, options.rgb);
  }
  for (unsigned i = 0; i < fmt->nb_streams; ++i)
    if (static_cast<int>(i) != audio_stream && static_cast<int>(i) != video_stream)
      fmt->streams[i]->discard = AVDISCARD_ALL;

  FramePtr frame(av_frame_alloc());
  std::unique_ptr<AVPacket, PacketFreer> packet(av_packet_alloc());
  int64_t video_fallback_pts = 0;
  auto drain = [&](AVCodecContext* ctx, bool is_audio) {
    while (true) {
      const int r = avcodec_receive_frame(ctx, frame.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      MOME_CHECK(r >= 0, ErrorCode::kCorruptFile, path, ": ", is_audio ? "audio" : "video", " decoding failed (",
                 AvError(r), ")");
      if (is_audio)
        audio->Add(frame.get());
      else
        video->Add(frame.get(), FrameSeconds(frame.get(), fmt->streams[video_stream], origin, &video_fallback_pts));
      av_frame_unref(frame.get());
    }
  };
  auto send = [&](AVCodecContext* ctx, const AVPacket* pkt, bool is_audio) {
    const int r = avcodec_send_packet(ctx, pkt);
    // A damaged packet inside a stream is skipped, as players do; a stream that yields nothing fails below.
    if (r < 0 && r != AVERROR(EAGAIN) && r != AVERROR_EOF && r != AVERROR_INVALIDDATA)
      MOME_FAIL(ErrorCode::kCorruptFile, path, ": ", is_audio ? "audio" : "video", " decoding failed (", AvError(r),
                ")");
    drain(ctx, is_audio);
  };

  while (true) {
    rc = av_read_frame(fmt.get(), packet.get());
    if (rc == AVERROR_EOF) break;
    MOME_CHECK(rc >= 0, ErrorCode::kCorruptFile, path, ": cannot read packet (", AvError(rc), ")");
    if (packet->stream_index == audio_stream) send(audio_ctx.get(), packet.get(), true);
    else if (packet->stream_index == video_stream) send(video_ctx.get(), packet.get(), false);
    av_packet_unref(packet.get());
  }
  if (audio_ctx) send(audio_ctx.get(), nullptr, true);
  if (video_ctx) send(video_ctx.get(), nullptr, false);

  DecodedMedia out;
  if (fmt->streams && video_stream >= 0) {
    const AVRational r = fmt->streams[video_stream]->avg_frame_rate;
    out.source_fps = r.den > 0 ? av_q2d(r) : 0.0;
  }
  if (audio) {
    out.audio = audio->Finish();
    MOME_CHECK(!options.require_audio || out.audio.numel() > 0, ErrorCode::kCorruptFile, path,
               ": the audio stream decoded to no samples");
  }
  if (video) {
    out.video = video->Finish(&out.frame_times);
    MOME_CHECK(!options.require_video || out.video.size(0) > 0, ErrorCode::kCorruptFile, path,
               ": the video stream decoded to no frames");
  }
  if (fmt->duration != AV_NOPTS_VALUE) out.duration_seconds = static_cast<double>(fmt->duration) / AV_TIME_BASE;
  if (out.audio.defined())
    out.duration_seconds = std::max(out.duration_seconds, static_cast<double>(out.audio.numel()) / options.sample_rate);
  return out;
}

}  // namespace mome::io
