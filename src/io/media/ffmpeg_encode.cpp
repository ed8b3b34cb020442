// Mp4Writer through FFmpeg: libx264 video from gray frames (libswscale to 4:2:0), FFmpeg's AAC from int16 audio,
// muxed by libavformat into a temp file beside the target, then fsync'ed and renamed into place.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "av_util.h"
#include "mome/core/atomic_file.h"
#include "mome/core/error.h"
#include "mome/io/media_writer.h"

namespace mome::io {
namespace {

using EncoderPtr = std::unique_ptr<AVCodecContext, CodecCloser>;

// One encoder and the stream it feeds.
struct EncodedStream {
  EncoderPtr encoder;
  AVStream* stream = nullptr;
  FramePtr frame;
  int64_t next_pts = 0;
};

class FfmpegMp4Writer : public Mp4Writer {
 public:
  FfmpegMp4Writer(const std::string& path, const Mp4Spec& spec);
  ~FfmpegMp4Writer() override;
  void WriteFrame(const uint8_t* gray) override;
  void WriteAudio(const int16_t* samples, int64_t count) override;
  void Finish() override;

 private:
  void Check(int rc, const char* what) const {
    MOME_CHECK(rc >= 0, ErrorCode::kIo, path_, ": ", what, " failed (", AvError(rc), ")");
  }
  EncodedStream OpenEncoder(const char* name, const std::function<void(AVCodecContext*)>& configure);
  void Open();
  void OpenVideo();
  void OpenAudio();
  void Encode(EncodedStream* s, AVFrame* frame);
  void EncodeAudioFrame(const float* samples, int64_t count);
  void MoveIntoPlace();
  void Release();

  std::string path_, temp_;
  Mp4Spec spec_;
  AVFormatContext* muxer_ = nullptr;
  EncodedStream video_, audio_;
  SwsContext* to_yuv_ = nullptr;
  std::unique_ptr<AVPacket, PacketFreer> packet_{av_packet_alloc()};
  std::vector<float> pending_audio_;  // samples not yet a whole AAC frame
  bool finished_ = false;
};

FfmpegMp4Writer::FfmpegMp4Writer(const std::string& path, const Mp4Spec& spec)
    : path_(path), temp_(path + ".tmp." + std::to_string(getpid())), spec_(spec) {
  MOME_CHECK(spec.width > 0 && spec.height > 0 && spec.width % 2 == 0 && spec.height % 2 == 0,
             ErrorCode::kInvalidArgument, path, ": video frames must have an even, positive size (got ", spec.width,
             "x", spec.height, ")");
  MOME_CHECK(spec.fps > 0 && spec.fps <= 1000, ErrorCode::kInvalidArgument, path, ": fps ", spec.fps,
             " is outside (0, 1000]");
  MOME_CHECK(spec.sample_rate >= 0, ErrorCode::kInvalidArgument, path, ": negative sample rate");
  MOME_CHECK(packet_ != nullptr, ErrorCode::kInternal, path, ": out of memory");
  try {
    Open();
  } catch (...) {
    Release();  // the destructor does not run when a constructor throws
    throw;
  }
}

void FfmpegMp4Writer::Open() {
  av_log_set_level(AV_LOG_FATAL);  // libx264 reports every file's statistics; failures come back as mome::Error
  Check(avformat_alloc_output_context2(&muxer_, nullptr, "mp4", temp_.c_str()), "allocating the mp4 muxer");
  muxer_->flags |= AVFMT_FLAG_BITEXACT;  // no encoder version strings: the same clip gives the same bytes
  muxer_->max_interleave_delta = 0;      // interleave strictly by time, however the streams are fed
  OpenVideo();
  if (spec_.sample_rate > 0) OpenAudio();
  Check(avio_open(&muxer_->pb, temp_.c_str(), AVIO_FLAG_WRITE), "creating the file");
  Check(avformat_write_header(muxer_, nullptr), "writing the mp4 header");
}

FfmpegMp4Writer::~FfmpegMp4Writer() {
  Release();
}

void FfmpegMp4Writer::Release() {
  if (muxer_ != nullptr && muxer_->pb != nullptr) avio_closep(&muxer_->pb);
  avformat_free_context(muxer_);
  muxer_ = nullptr;
  sws_freeContext(to_yuv_);
  to_yuv_ = nullptr;
  if (!finished_) std::remove(temp_.c_str());
}

EncodedStream FfmpegMp4Writer::OpenEncoder(const char* name, const std::function<void(AVCodecContext*)>& configure) {
  const AVCodec* codec = avcodec_find_encoder_by_name(name);
  MOME_CHECK(codec != nullptr, ErrorCode::kUnsupported, path_, ": this FFmpeg has no ", name, " encoder");
  EncodedStream s;
  s.encoder.reset(avcodec_alloc_context3(codec));
  s.frame.reset(av_frame_alloc());
  s.stream = avformat_new_stream(muxer_, nullptr);
  MOME_CHECK(s.encoder && s.frame && s.stream, ErrorCode::kInternal, path_, ": out of memory opening ", name);
  AVCodecContext* c = s.encoder.get();
  c->thread_count = 1;  // callers write clips in parallel
  c->flags |= AV_CODEC_FLAG_BITEXACT;
  if (muxer_->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  configure(c);
  Check(avcodec_open2(c, codec, nullptr), name);
  Check(avcodec_parameters_from_context(s.stream->codecpar, c), "describing the stream");
  s.stream->time_base = c->time_base;
  return s;
}

void FfmpegMp4Writer::OpenVideo() {
  video_ = OpenEncoder("libx264", [&](AVCodecContext* c) {
    c->width = spec_.width;
    c->height = spec_.height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->color_range = AVCOL_RANGE_MPEG;
    c->framerate = av_d2q(spec_.fps, 100000);
    c->time_base = av_inv_q(c->framerate);
    av_opt_set(c->priv_data, "preset", spec_.preset.c_str(), 0);
    av_opt_set_int(c->priv_data, "crf", spec_.crf, 0);
  });
  AVFrame* f = video_.frame.get();
  f->format = AV_PIX_FMT_YUV420P, f->width = spec_.width, f->height = spec_.height;
  Check(av_frame_get_buffer(f, 0), "allocating a video frame");
  // Every byte of the rows, padding beyond the width included, is set once (the frame is reused). Chroma is neutral
  // (gray has none).
  std::memset(f->data[0], 16, static_cast<size_t>(f->linesize[0]) * spec_.height);
  for (int plane = 1; plane < 3; ++plane)
    std::memset(f->data[plane], 128, static_cast<size_t>(f->linesize[plane]) * ((spec_.height + 1) / 2));
  to_yuv_ = sws_getContext(spec_.width, spec_.height, AV_PIX_FMT_GRAY8, spec_.width, spec_.height, AV_PIX_FMT_YUV420P,
                           SWS_BICUBIC, nullptr, nullptr, nullptr);
  MOME_CHECK(to_yuv_ != nullptr, ErrorCode::kInternal, path_, ": cannot convert gray frames to YUV 4:2:0");
  // Gray 0..255 is full range; H.264 in mp4 is read as limited range (Y 16..235) unless flagged, so map it there,
  // as the ffmpeg program does (a decoder maps it back; without this every pixel came back up to 20 levels off).
  const int* bt601 = sws_getCoefficients(SWS_CS_ITU601);
  sws_setColorspaceDetails(to_yuv_, bt601, /*srcRange=*/1, bt601, /*dstRange=*/0, 0, 1 << 16, 1 << 16);
}

void FfmpegMp4Writer::OpenAudio() {
  audio_ = OpenEncoder("aac", [&](AVCodecContext* c) {
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    c->sample_rate = spec_.sample_rate;
    c->bit_rate = spec_.audio_bit_rate;
    c->time_base = AVRational{1, spec_.sample_rate};
    av_channel_layout_default(&c->ch_layout, 1);
  });
  AVFrame* f = audio_.frame.get();
  f->format = AV_SAMPLE_FMT_FLTP, f->nb_samples = audio_.encoder->frame_size;
  Check(av_channel_layout_copy(&f->ch_layout, &audio_.encoder->ch_layout), "setting the channel layout");
  Check(av_frame_get_buffer(f, 0), "allocating an audio frame");
}

// Sends `frame` (nullptr: drain) and muxes every packet the encoder has ready.
void FfmpegMp4Writer::Encode(EncodedStream* s, AVFrame* frame) {
  Check(avcodec_send_frame(s->encoder.get(), frame), "encoding");
  while (true) {
    const int rc = avcodec_receive_packet(s->encoder.get(), packet_.get());
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
    Check(rc, "encoding");
    // A video frame lasts 1/fps (x264 leaves it 0; the last frame would then have no length in the file).
    if (s == &video_ && packet_->duration == 0) packet_->duration = 1;
    av_packet_rescale_ts(packet_.get(), s->encoder->time_base, s->stream->time_base);
    packet_->stream_index = s->stream->index;
    Check(av_interleaved_write_frame(muxer_, packet_.get()), "writing a packet");
  }
}

void FfmpegMp4Writer::WriteFrame(const uint8_t* gray) {
  MOME_CHECK(!finished_, ErrorCode::kInvalidArgument, path_, ": frame written after Finish");
  AVFrame* f = video_.frame.get();
  Check(av_frame_make_writable(f), "allocating a video frame");
  // sws_scale reads four plane pointers and strides whatever the format: unset ones must be null, not stack bytes.
  const uint8_t* planes[4] = {gray, nullptr, nullptr, nullptr};
  const int strides[4] = {spec_.width, 0, 0, 0};
  sws_scale(to_yuv_, planes, strides, 0, spec_.height, f->data, f->linesize);
  f->pts = video_.next_pts++;
  Encode(&video_, f);
}

void FfmpegMp4Writer::EncodeAudioFrame(const float* samples, int64_t count) {
  AVFrame* f = audio_.frame.get();
  Check(av_frame_make_writable(f), "allocating an audio frame");
  f->nb_samples = static_cast<int>(count);
  std::copy(samples, samples + count, reinterpret_cast<float*>(f->data[0]));
  f->pts = audio_.next_pts;
  audio_.next_pts += count;
  Encode(&audio_, f);
}

void FfmpegMp4Writer::WriteAudio(const int16_t* samples, int64_t count) {
  MOME_CHECK(!finished_, ErrorCode::kInvalidArgument, path_, ": audio written after Finish");
  MOME_CHECK(audio_.encoder != nullptr, ErrorCode::kInvalidArgument, path_,
             ": audio written to a clip made without audio (sample_rate 0)");
  for (int64_t i = 0; i < count; ++i) pending_audio_.push_back(static_cast<float>(samples[i]) / 32768.0f);
  const auto frame_size = static_cast<size_t>(audio_.encoder->frame_size);
  size_t used = 0;
  for (; pending_audio_.size() - used >= frame_size; used += frame_size)
    EncodeAudioFrame(pending_audio_.data() + used, static_cast<int64_t>(frame_size));
  pending_audio_.erase(pending_audio_.begin(), pending_audio_.begin() + static_cast<std::ptrdiff_t>(used));
}

void FfmpegMp4Writer::Finish() {
  MOME_CHECK(!finished_, ErrorCode::kInvalidArgument, path_, ": Finish called twice");
  if (audio_.encoder) {
    if (!pending_audio_.empty())  // a short last frame (FFmpeg's AAC encoder takes one)
      EncodeAudioFrame(pending_audio_.data(), static_cast<int64_t>(pending_audio_.size()));
    Encode(&audio_, nullptr);
  }
  Encode(&video_, nullptr);
  Check(av_write_trailer(muxer_), "writing the mp4 index");
  Check(avio_closep(&muxer_->pb), "closing the file");
  MoveIntoPlace();
  finished_ = true;
}

void FfmpegMp4Writer::MoveIntoPlace() {
  const int fd = open(temp_.c_str(), O_RDONLY);
  const bool synced = fd >= 0 && fsync(fd) == 0;
  if (fd >= 0) close(fd);
  MOME_CHECK(synced, ErrorCode::kIo, temp_, ": cannot sync to disk");
  MOME_CHECK(std::rename(temp_.c_str(), path_.c_str()) == 0, ErrorCode::kIo, path_, ": cannot move ", temp_,
             " into place");
  SyncParentFolder(path_);
}

}  // namespace

std::unique_ptr<Mp4Writer> Mp4Writer::Create(const std::string& path, const Mp4Spec& spec) {
  return std::make_unique<FfmpegMp4Writer>(path, spec);
}

}  // namespace mome::io
