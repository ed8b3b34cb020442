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
#include <limits>
#include <memory>
#include <vector>

#include "av_util.h"
#include "mome/core/error.h"
#include "mome/io/media.h"

namespace mome::io {
namespace {

struct FormatCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct SwrFreer {
  void operator()(SwrContext* s) const { swr_free(&s); }
};
struct SwsFreer {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};

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

constexpr int kMaxInputSampleRate = 768000;  // the highest rate audio hardware records
constexpr int kMaxInputChannels = 64;

// Audio: every decoded frame goes through swr into mono float at the target rate.
class AudioSink {
 public:
  AudioSink(const std::string& path, AVCodecContext* ctx, int64_t rate, double start_offset, double max_seconds)
      : path_(path), rate_(rate), max_samples_(static_cast<int64_t>(max_seconds * static_cast<double>(rate))) {
    // A header can claim any rate or channel count; the resampler's tables grow with both (a 2 GHz "WAV" of a few
    // bytes took gigabytes: found by fuzz_media).
    MOME_CHECK(ctx->sample_rate > 0 && ctx->sample_rate <= kMaxInputSampleRate, ErrorCode::kCorruptFile, path,
               ": audio sample rate ", ctx->sample_rate, " Hz is outside (0, ", kMaxInputSampleRate, "]");
    MOME_CHECK(ctx->ch_layout.nb_channels <= kMaxInputChannels, ErrorCode::kUnsupported, path, ": ",
               ctx->ch_layout.nb_channels, " audio channels (at most ", kMaxInputChannels, ")");
    AVChannelLayout mono{};  // zeroed: av_channel_layout_copy frees what the target held (garbage would crash)
    av_channel_layout_default(&mono, 1);
    AVChannelLayout in_layout{};
    if (ctx->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || ctx->ch_layout.nb_channels <= 0)
      av_channel_layout_default(&in_layout, std::max(1, ctx->ch_layout.nb_channels));
    else
      av_channel_layout_copy(&in_layout, &ctx->ch_layout);
    SwrContext* swr = nullptr;
    int rc = swr_alloc_set_opts2(&swr, &mono, AV_SAMPLE_FMT_FLT, static_cast<int>(rate), &in_layout, ctx->sample_fmt,
                                 ctx->sample_rate, 0, nullptr);
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
    const int out_max =
        static_cast<int>(av_rescale_rnd(swr_get_delay(swr_.get(), in_rate) + in_count, rate_, in_rate, AV_ROUND_UP)) +
        32;
    const size_t old = samples_.size();
    samples_.resize(old + static_cast<size_t>(out_max));
    auto* out = reinterpret_cast<uint8_t*>(samples_.data() + old);
    const int got = swr_convert(swr_.get(), &out, out_max,
                                frame ? const_cast<const uint8_t**>(frame->extended_data) : nullptr, in_count);
    MOME_CHECK(got >= 0, ErrorCode::kCorruptFile, path_, ": audio resampling failed (", AvError(got), ")");
    samples_.resize(old + static_cast<size_t>(got));
    produced_ += got;
    MOME_CHECK(produced_ <= max_samples_, ErrorCode::kInvalidArgument, path_, ": the audio runs past the limit of ",
               static_cast<double>(max_samples_) / static_cast<double>(rate_), " s");
  }

  void Flush() { Add(nullptr); }

  // Samples decoded so far and not taken yet (after the leading cut of a stream that starts early).
  int64_t Available() const { return std::max<int64_t>(0, static_cast<int64_t>(samples_.size()) - skip_); }

  // Removes and returns the first `n` available samples.
  at::Tensor Take(int64_t n) {
    const auto cut = std::min<int64_t>(skip_, static_cast<int64_t>(samples_.size()));
    samples_.erase(samples_.begin(), samples_.begin() + cut);
    skip_ -= cut;
    n = std::min(n, Available());
    auto t = at::empty({n}, at::kFloat);
    if (n > 0) std::memcpy(t.data_ptr<float>(), samples_.data(), sizeof(float) * static_cast<size_t>(n));
    samples_.erase(samples_.begin(), samples_.begin() + n);
    return t.clamp_(-1.f, 1.f);
  }

 private:
  std::string path_;
  int64_t rate_;
  int64_t max_samples_;
  int64_t skip_ = 0, produced_ = 0;
  std::unique_ptr<SwrContext, SwrFreer> swr_;
  std::vector<float> samples_;
};

// Video: frames converted to gray/RGB at the source size, then resampled to the output rate by timestamp.
class VideoSink {
 public:
  VideoSink(const std::string& path, const MediaDecodeOptions& options)
      : path_(path),
        fps_(options.fps),
        rgb_(options.rgb),
        max_seconds_(options.max_seconds),
        max_pixels_(options.max_frame_pixels) {}

  void Add(const AVFrame* frame, double seconds) {
    if (width_ == 0) {
      width_ = frame->width;
      height_ = frame->height;
      MOME_CHECK(width_ > 0 && height_ > 0, ErrorCode::kCorruptFile, path_, ": video frame of size ", width_, "x",
                 height_);
      MOME_CHECK(static_cast<int64_t>(width_) * height_ <= max_pixels_, ErrorCode::kInvalidArgument, path_,
                 ": video frames of ", width_, "x", height_, " exceed the limit of ", max_pixels_, " pixels");
    }
    // Every output slot up to this frame's time is filled: a timestamp far out would fill memory with copies.
    MOME_CHECK(std::isfinite(seconds) && seconds <= max_seconds_, ErrorCode::kInvalidArgument, path_,
               ": a video frame at ", seconds, " s is past the limit of ", max_seconds_, " s");
    MOME_CHECK(frame->width == width_ && frame->height == height_, ErrorCode::kUnsupported, path_,
               ": the video changes size mid-stream (", width_, "x", height_, " to ", frame->width, "x", frame->height,
               ")");
    const int64_t index = std::llround(seconds * fps_);  // the output slot this frame starts to show in
    // Output frames before this one show the previous source frame (or this one, at the very start).
    while (next_out_ < index) {
      Emit(last_.empty() ? Convert(frame) : last_);
      ++next_out_;
    }
    last_ = Convert(frame);
    last_index_ = index;
  }

  // At the end of the stream: the last source frame fills the slots up to where it started.
  void Flush() {
    if (!last_.empty() && next_out_ <= std::max<int64_t>(last_index_, 0)) {
      while (next_out_ <= last_index_) Emit(last_), ++next_out_;
      if (next_out_ == 0) Emit(last_), ++next_out_;
    }
  }

  // Output frames complete so far and not taken yet.
  int64_t Available() const { return static_cast<int64_t>(frames_.size()); }
  int64_t Taken() const { return taken_; }

  // Removes and returns the first `n` available frames, appending their times (seconds) to `times`.
  at::Tensor Take(int64_t n, std::vector<double>* times) {
    n = std::min(n, Available());
    std::vector<int64_t> shape = {n, height_, width_};
    if (rgb_) shape.push_back(3);
    auto t = at::empty(shape, at::kByte);
    const size_t bytes = frame_bytes();
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(t.data_ptr<uint8_t>() + i * bytes, frames_[static_cast<size_t>(i)].data(), bytes);
      times->push_back(static_cast<double>(taken_ + i) / fps_);
    }
    frames_.erase(frames_.begin(), frames_.begin() + n);
    taken_ += n;
    return t;
  }

 private:
  size_t frame_bytes() const { return static_cast<size_t>(width_) * height_ * (rgb_ ? 3 : 1); }

  std::vector<uint8_t> Convert(const AVFrame* frame) {
    sws_.reset(sws_getCachedContext(sws_.release(), width_, height_, static_cast<AVPixelFormat>(frame->format), width_,
                                    height_, rgb_ ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_GRAY8, SWS_BILINEAR, nullptr, nullptr,
                                    nullptr));
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
  double max_seconds_;
  int64_t max_pixels_;
  int width_ = 0, height_ = 0;
  int64_t next_out_ = 0, last_index_ = -1, taken_ = 0;
  std::vector<uint8_t> last_;
  std::vector<std::vector<uint8_t>> frames_;  // emitted, not yet taken
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

bool MediaDecodingAvailable() {
  return true;
}

// Bytes in memory as an FFmpeg input (uploads: nothing is written to disk). Owns the AVIOContext and its buffer;
// outlives the format context that reads through it.
class MemoryInput {
 public:
  explicit MemoryInput(std::shared_ptr<const std::string> bytes) : bytes_(std::move(bytes)) {
    constexpr int kBuffer = 32768;
    auto* buffer = static_cast<unsigned char*>(av_malloc(kBuffer));
    MOME_CHECK(buffer != nullptr, ErrorCode::kIo, "out of memory for the media buffer");
    io_ = avio_alloc_context(buffer, kBuffer, 0, this, &MemoryInput::Read, nullptr, &MemoryInput::Seek);
    MOME_CHECK(io_ != nullptr, ErrorCode::kIo, "cannot create an in-memory media input");
  }
  ~MemoryInput() {
    if (!io_) return;
    av_freep(&io_->buffer);
    avio_context_free(&io_);
  }
  MemoryInput(const MemoryInput&) = delete;
  MemoryInput& operator=(const MemoryInput&) = delete;
  AVIOContext* io() const { return io_; }

 private:
  static int Read(void* opaque, uint8_t* buf, int size) {
    auto* self = static_cast<MemoryInput*>(opaque);
    const int64_t left = static_cast<int64_t>(self->bytes_->size()) - self->pos_;
    if (left <= 0) return AVERROR_EOF;
    const int n = static_cast<int>(std::min<int64_t>(left, size));
    std::memcpy(buf, self->bytes_->data() + self->pos_, static_cast<size_t>(n));
    self->pos_ += n;
    return n;
  }
  static int64_t Seek(void* opaque, int64_t offset, int whence) {
    auto* self = static_cast<MemoryInput*>(opaque);
    const auto size = static_cast<int64_t>(self->bytes_->size());
    if (whence & AVSEEK_SIZE) return size;
    const int64_t base = (whence & 3) == SEEK_CUR ? self->pos_ : ((whence & 3) == SEEK_END ? size : 0);
    if (base + offset < 0 || base + offset > size) return AVERROR(EINVAL);
    self->pos_ = base + offset;
    return self->pos_;
  }
  std::shared_ptr<const std::string> bytes_;
  int64_t pos_ = 0;
  AVIOContext* io_ = nullptr;
};

// The FFmpeg state of one open file; DecodeMedia reads it to the end, MediaReader hands it out a chunk at a time.
class FfmpegReader : public MediaReader {
 public:
  // `bytes`: read from memory (then `path` only names the input in errors).
  FfmpegReader(const std::string& path, const MediaDecodeOptions& options,
               std::shared_ptr<const std::string> bytes = nullptr)
      : path_(path), options_(options) {
    MOME_CHECK(options.sample_rate > 0 && options.fps > 0 && options.max_seconds > 0, ErrorCode::kInvalidArgument, path,
               ": sample rate, fps and the duration limit must be positive");
    av_log_set_level(AV_LOG_FATAL);  // failures come back as one mome::Error line instead
    AVFormatContext* raw = nullptr;
    if (bytes) {
      memory_ = std::make_unique<MemoryInput>(std::move(bytes));
      raw = avformat_alloc_context();
      MOME_CHECK(raw != nullptr, ErrorCode::kIo, path, ": cannot allocate a demuxer");
      raw->pb = memory_->io();
      raw->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    int rc = avformat_open_input(&raw, memory_ ? nullptr : path.c_str(), nullptr, nullptr);
    MOME_CHECK(rc >= 0, rc == AVERROR(ENOENT) ? ErrorCode::kNotFound : ErrorCode::kCorruptFile, path,
               ": cannot open media (", AvError(rc), ")");
    fmt_.reset(raw);
    rc = avformat_find_stream_info(fmt_.get(), nullptr);
    MOME_CHECK(rc >= 0, ErrorCode::kCorruptFile, path, ": cannot read stream info (", AvError(rc), ")");
    MOME_CHECK(static_cast<int64_t>(fmt_->nb_streams) <= options.max_streams, ErrorCode::kInvalidArgument, path, ": ",
               fmt_->nb_streams, " streams exceed the limit of ", options.max_streams);

    audio_stream_ = options.audio ? av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0) : -1;
    video_stream_ = options.video ? av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0) : -1;
    MOME_CHECK(!options.require_audio || audio_stream_ >= 0, ErrorCode::kCorruptFile, path, ": no audio stream");
    MOME_CHECK(!options.require_video || video_stream_ >= 0, ErrorCode::kCorruptFile, path, ": no video stream");

    // Common time origin: the container's start time (both streams are shifted by it, which keeps them aligned).
    origin_ = fmt_->start_time != AV_NOPTS_VALUE ? static_cast<double>(fmt_->start_time) / AV_TIME_BASE : 0.0;
    auto stream_start = [&](int s) {
      const AVStream* st = fmt_->streams[s];
      return st->start_time != AV_NOPTS_VALUE ? static_cast<double>(st->start_time) * av_q2d(st->time_base) - origin_
                                              : 0.0;
    };
    if (audio_stream_ >= 0) {
      audio_ctx_ = OpenDecoder(fmt_.get(), audio_stream_, path);
      audio_ = std::make_unique<AudioSink>(path, audio_ctx_.get(), options.sample_rate, stream_start(audio_stream_),
                                           options.max_seconds);
    }
    if (video_stream_ >= 0) {
      video_ctx_ = OpenDecoder(fmt_.get(), video_stream_, path);
      video_ = std::make_unique<VideoSink>(path, options);
      const AVRational r = fmt_->streams[video_stream_]->avg_frame_rate;
      source_fps_ = r.den > 0 ? av_q2d(r) : 0.0;
    }
    for (unsigned i = 0; i < fmt_->nb_streams; ++i)
      if (static_cast<int>(i) != audio_stream_ && static_cast<int>(i) != video_stream_)
        fmt_->streams[i]->discard = AVDISCARD_ALL;
    frame_.reset(av_frame_alloc());
    packet_.reset(av_packet_alloc());
  }

  DecodedMedia Read(double seconds) override {
    MOME_CHECK(seconds > 0, ErrorCode::kInvalidArgument, path_, ": a chunk must be longer than 0 s");
    // Chunk ends accumulate in seconds, so that audio and video stay aligned (640 samples per 25 fps frame) and
    // rounding never drifts over a long file.
    end_seconds_ = std::isinf(seconds) ? seconds : end_seconds_ + seconds;
    const bool all = std::isinf(end_seconds_);
    const int64_t want_frames = all ? INT64_MAX : std::llround(end_seconds_ * options_.fps);
    const int64_t want_samples =
        all ? INT64_MAX : std::llround(end_seconds_ * static_cast<double>(options_.sample_rate));
    auto need_more = [&] {
      return (audio_ && audio_->Available() < want_samples - samples_taken_) ||
             (video_ && video_->Available() < want_frames - video_->Taken());
    };
    while (!eof_ && need_more()) ReadPacket();
    DecodedMedia out;
    out.source_fps = source_fps_;
    if (audio_) {
      out.audio = audio_->Take(want_samples - samples_taken_);
      samples_taken_ += out.audio.numel();
    }
    if (video_) out.video = video_->Take(want_frames - video_->Taken(), &out.frame_times);
    if (fmt_->duration != AV_NOPTS_VALUE) out.duration_seconds = static_cast<double>(fmt_->duration) / AV_TIME_BASE;
    return out;
  }

  bool done() const override {
    return eof_ && (!audio_ || audio_->Available() == 0) && (!video_ || video_->Available() == 0);
  }

 private:
  void Drain(AVCodecContext* ctx, bool is_audio) {
    while (true) {
      const int r = avcodec_receive_frame(ctx, frame_.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      MOME_CHECK(r >= 0, ErrorCode::kCorruptFile, path_, ": ", is_audio ? "audio" : "video", " decoding failed (",
                 AvError(r), ")");
      if (is_audio)
        audio_->Add(frame_.get());
      else
        video_->Add(frame_.get(), FrameSeconds(frame_.get(), fmt_->streams[video_stream_], origin_, &video_pts_));
      av_frame_unref(frame_.get());
    }
  }

  void Send(AVCodecContext* ctx, const AVPacket* pkt, bool is_audio) {
    const int r = avcodec_send_packet(ctx, pkt);
    // A damaged packet inside a stream is skipped, as players do; a stream that yields nothing fails the caller.
    if (r < 0 && r != AVERROR(EAGAIN) && r != AVERROR_EOF && r != AVERROR_INVALIDDATA)
      MOME_FAIL(ErrorCode::kCorruptFile, path_, ": ", is_audio ? "audio" : "video", " decoding failed (", AvError(r),
                ")");
    Drain(ctx, is_audio);
  }

  void ReadPacket() {
    const int rc = av_read_frame(fmt_.get(), packet_.get());
    if (rc == AVERROR_EOF) {  // flush decoders, resampler and the last video frame
      if (audio_ctx_) Send(audio_ctx_.get(), nullptr, true), audio_->Flush();
      if (video_ctx_) Send(video_ctx_.get(), nullptr, false), video_->Flush();
      eof_ = true;
      return;
    }
    MOME_CHECK(rc >= 0, ErrorCode::kCorruptFile, path_, ": cannot read packet (", AvError(rc), ")");
    if (packet_->stream_index == audio_stream_)
      Send(audio_ctx_.get(), packet_.get(), true);
    else if (packet_->stream_index == video_stream_)
      Send(video_ctx_.get(), packet_.get(), false);
    av_packet_unref(packet_.get());
  }

  std::string path_;
  MediaDecodeOptions options_;
  std::unique_ptr<MemoryInput> memory_;  // before fmt_: destroyed after it
  std::unique_ptr<AVFormatContext, FormatCloser> fmt_;
  int audio_stream_ = -1, video_stream_ = -1;
  double origin_ = 0, source_fps_ = 0, end_seconds_ = 0;
  std::unique_ptr<AVCodecContext, CodecCloser> audio_ctx_, video_ctx_;
  std::unique_ptr<AudioSink> audio_;
  std::unique_ptr<VideoSink> video_;
  FramePtr frame_;
  std::unique_ptr<AVPacket, PacketFreer> packet_;
  int64_t video_pts_ = 0, samples_taken_ = 0;
  bool eof_ = false;
};

std::unique_ptr<MediaReader> MediaReader::Open(const std::string& path, const MediaDecodeOptions& options) {
  return std::make_unique<FfmpegReader>(path, options);
}

namespace {

DecodedMedia CheckedWhole(MediaReader& reader, const std::string& path, const MediaDecodeOptions& options);

}  // namespace

DecodedMedia DecodeMediaFromMemory(std::shared_ptr<const std::string> bytes, const std::string& name,
                                   const MediaDecodeOptions& options) {
  MOME_CHECK(bytes && !bytes->empty(), ErrorCode::kInvalidArgument, name, ": empty media");
  FfmpegReader reader(name, options, std::move(bytes));
  return CheckedWhole(reader, name, options);
}

DecodedMedia DecodeMedia(const std::string& path, const MediaDecodeOptions& options) {
  FfmpegReader reader(path, options);
  return CheckedWhole(reader, path, options);
}

namespace {

DecodedMedia CheckedWhole(MediaReader& reader, const std::string& path, const MediaDecodeOptions& options) {
  DecodedMedia out = reader.Read(std::numeric_limits<double>::infinity());
  if (out.audio.defined())
    MOME_CHECK(!options.require_audio || out.audio.numel() > 0, ErrorCode::kCorruptFile, path,
               ": the audio stream decoded to no samples");
  if (out.video.defined())
    MOME_CHECK(!options.require_video || out.video.size(0) > 0, ErrorCode::kCorruptFile, path,
               ": the video stream decoded to no frames");
  if (out.audio.defined())
    out.duration_seconds = std::max(out.duration_seconds, static_cast<double>(out.audio.numel()) / options.sample_rate);
  return out;
}

}  // namespace

}  // namespace mome::io
