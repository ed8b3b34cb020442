// A schematic frontal face (gray, OpenCV) with its 68 iBUG landmarks, for the mouth-ROI modes: OpenCV's Haar
// frontal-face cascades find it (dark brows and eyes over a lighter face, a hairline, shading), and because the
// landmarks are known exactly, crops by detection and by landmarks can be checked against the drawn mouth.
// The face is drawn upright around the origin and then placed by a similarity transform (centre, width, roll).
#pragma once

#include <opencv2/imgproc.hpp>

#include <array>
#include <cmath>
#include <vector>

namespace mome::synth {

struct FacePose {
  double cx = 112, cy = 112;  // face centre in the frame
  double width = 110;         // face width in pixels (height is 1.3x)
  double roll_degrees = 0;    // in-plane rotation
};

struct FaceLook {
  double skin = 165, background = 90, hair = 40;
  double mouth_open = 0.3;  // 0 closed .. 1 wide open
  // Optional: a rendered mouth crop (synth/mouth_renderer.h, 96x96 gray) to paste at the mouth instead of the
  // schematic lips, with its mouth centre and lip half-width in patch pixels.
  const cv::Mat* mouth_patch = nullptr;
  cv::Point2d patch_mouth_centre{48, 52};
  double patch_mouth_half_width = 28;
};

using FaceLandmarks = std::array<cv::Point2f, 68>;

namespace face_detail {

constexpr double kPi = 3.14159265358979323846;
constexpr double kAspect = 1.3;  // face height / width

// Landmarks of the upright face of width 1 centred at the origin (y down), in iBUG 300-W order.
inline FaceLandmarks UnitLandmarks(double open) {
  FaceLandmarks p;
  const double h = kAspect;
  for (int k = 0; k <= 16; ++k) {  // jaw: ear to ear through the chin
    const double a = kPi - kPi * k / 16.0;
    p[k] = cv::Point2f(static_cast<float>(0.5 * std::cos(a)), static_cast<float>(h * (0.08 + 0.42 * std::sin(a))));
  }
  for (int side = 0; side < 2; ++side) {  // brows 17-21 and 22-26, each drawn left to right
    const double s = side == 0 ? -1 : 1;
    for (int k = 0; k < 5; ++k) {
      const double x = s * 0.2 + (k - 2) * 0.055;
      p[17 + 5 * side + k] =
          cv::Point2f(static_cast<float>(x), static_cast<float>(h * (-0.14 - 0.015 * (2 - std::abs(k - 2)))));
    }
  }
  for (int k = 0; k < 4; ++k) p[27 + k] = cv::Point2f(0.f, static_cast<float>(h * (-0.04 + 0.05 * k)));  // bridge
  for (int k = 0; k < 5; ++k)                                                                            // nostrils
    p[31 + k] = cv::Point2f(static_cast<float>(-0.07 + 0.035 * k),
                            static_cast<float>(h * (0.14 + 0.01 * (2 - std::abs(k - 2)))));
  for (int side = 0; side < 2; ++side) {  // eyes 36-41 (image left) and 42-47: corner, top, top, corner, bottom, bottom
    const double c = side == 0 ? -0.2 : 0.2, y = -0.06 * h, hw = 0.11, hh = 0.045 * h;
    const int b = 36 + 6 * side;
    // iBUG goes clockwise in the image from the left corner.
    const double left = c - hw, right = c + hw;
    p[b + 0] = cv::Point2f(static_cast<float>(left), static_cast<float>(y));
    p[b + 1] = cv::Point2f(static_cast<float>(c - hw / 3), static_cast<float>(y - hh));
    p[b + 2] = cv::Point2f(static_cast<float>(c + hw / 3), static_cast<float>(y - hh));
    p[b + 3] = cv::Point2f(static_cast<float>(right), static_cast<float>(y));
    p[b + 4] = cv::Point2f(static_cast<float>(c + hw / 3), static_cast<float>(y + hh));
    p[b + 5] = cv::Point2f(static_cast<float>(c - hw / 3), static_cast<float>(y + hh));
  }
  // Lips: outer 48-59 from the left corner clockwise, inner 60-67; the opening moves the lower lip.
  const double my = 0.3 * h, hw = 0.17, lip = 0.03 * h, gap = 0.07 * h * open;
  for (int k = 0; k < 12; ++k) {
    const double a = kPi + 2 * kPi * k / 12.0;  // starts at the left corner, goes over the top
    const double x = hw * std::cos(a);
    const bool top = std::sin(a) < 0;  // the drawn lower lip drops 3x as far as the upper lip rises
    const double y = my + (top ? lip + gap / 2 : lip + 1.5 * gap) * std::sin(a);
    p[48 + k] = cv::Point2f(static_cast<float>(x), static_cast<float>(y));
  }
  for (int k = 0; k < 8; ++k) {
    const double a = kPi + 2 * kPi * k / 8.0;
    const double y = my + (gap / 2 + 0.005 * h) * std::sin(a) + (std::sin(a) > 0 ? gap / 4 : 0);
    p[60 + k] = cv::Point2f(static_cast<float>(0.75 * hw * std::cos(a)), static_cast<float>(y));
  }
  return p;
}

}  // namespace face_detail

// The 2x3 similarity taking unit-face coordinates to frame pixels.
inline cv::Matx23d FaceTransform(const FacePose& pose) {
  const double a = pose.roll_degrees * face_detail::kPi / 180.0, s = pose.width;
  return cv::Matx23d(s * std::cos(a), -s * std::sin(a), pose.cx, s * std::sin(a), s * std::cos(a), pose.cy);
}

inline FaceLandmarks FaceLandmarksFor(const FacePose& pose, double mouth_open) {
  FaceLandmarks p = face_detail::UnitLandmarks(mouth_open);
  const cv::Matx23d m = FaceTransform(pose);
  for (auto& q : p)
    q = cv::Point2f(static_cast<float>(m(0, 0) * q.x + m(0, 1) * q.y + m(0, 2)),
                    static_cast<float>(m(1, 0) * q.x + m(1, 1) * q.y + m(1, 2)));
  return p;
}

// Draws the face into `frame` (CV_8UC1, already sized), returns its landmarks.
inline FaceLandmarks DrawFace(cv::Mat& frame, const FacePose& pose, const FaceLook& look) {
  // Draw upright at 4x the face width on a canvas, then warp into place (anti-aliased, any roll).
  const double scale = 4 * pose.width, size = 2.2 * scale;
  cv::Mat canvas(static_cast<int>(size), static_cast<int>(size), CV_8UC1, cv::Scalar(look.background));
  const double o = size / 2, h = face_detail::kAspect;
  auto P = [&](double x, double y) {
    return cv::Point(static_cast<int>(std::lround(o + x * scale)), static_cast<int>(std::lround(o + y * scale)));
  };
  auto S = [&](double a, double b) {
    return cv::Size(static_cast<int>(std::lround(a * scale)), static_cast<int>(std::lround(b * scale)));
  };
  const double skin = look.skin;
  cv::ellipse(canvas, P(0, 0), S(0.5, 0.5 * h), 0, 0, 360, cv::Scalar(skin), -1, cv::LINE_AA);
  cv::ellipse(canvas, P(0, -0.38 * h), S(0.52, 0.2 * h), 0, 180, 360, cv::Scalar(look.hair), -1, cv::LINE_AA);
  for (int s : {-1, 1}) {
    cv::ellipse(canvas, P(s * 0.2, -0.14 * h), S(0.13, 0.03 * h), 0, 0, 360, cv::Scalar(skin * 0.35), -1, cv::LINE_AA);
    cv::ellipse(canvas, P(s * 0.2, -0.06 * h), S(0.11, 0.045 * h), 0, 0, 360, cv::Scalar(skin * 0.25), -1, cv::LINE_AA);
    cv::ellipse(canvas, P(s * 0.2, -0.06 * h), S(0.045, 0.04 * h), 0, 0, 360, cv::Scalar(20), -1, cv::LINE_AA);
  }
  cv::ellipse(canvas, P(0, 0.14 * h), S(0.07, 0.03 * h), 0, 0, 360, cv::Scalar(skin * 0.7), -1, cv::LINE_AA);
  const double open = look.mouth_open;
  if (look.mouth_patch) {
    // The patch's mouth onto the face's mouth position at the face's lip width, blended through a feathered
    // ellipse that covers lips and chin but not the patch's own nostrils.
    const cv::Mat& patch = *look.mouth_patch;
    const double k = 0.17 * scale / look.patch_mouth_half_width;
    const cv::Point2d c = look.patch_mouth_centre;
    const cv::Matx23d to_canvas(k, 0, o - k * c.x, 0, k, o + 0.3 * h * scale - k * c.y);
    cv::Mat mask = cv::Mat::zeros(patch.size(), CV_8UC1);
    cv::ellipse(mask, cv::Point(static_cast<int>(c.x), static_cast<int>(c.y + 10)), cv::Size(38, 30), 0, 0, 360,
                cv::Scalar(255), -1, cv::LINE_AA);
    cv::GaussianBlur(mask, mask, cv::Size(0, 0), 4);
    cv::Mat warped, alpha;
    cv::warpAffine(patch, warped, to_canvas, canvas.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    cv::warpAffine(mask, alpha, to_canvas, canvas.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0));
    cv::Mat a, fw, fc;
    alpha.convertTo(a, CV_32F, 1.0 / 255);
    warped.convertTo(fw, CV_32F);
    canvas.convertTo(fc, CV_32F);
    cv::Mat blended = fc.mul(1.0 - a) + fw.mul(a);
    blended.convertTo(canvas, CV_8UC1);
  } else {
    cv::ellipse(canvas, P(0, 0.3 * h + 0.035 * h * open), S(0.17, (0.03 + 0.07 * open) * h), 0, 0, 360,
                cv::Scalar(skin * 0.55), -1, cv::LINE_AA);
    cv::ellipse(canvas, P(0, 0.3 * h + 0.035 * h * open), S(0.13, (0.005 + 0.05 * open) * h), 0, 0, 360, cv::Scalar(30),
                -1, cv::LINE_AA);
  }
  cv::GaussianBlur(canvas, canvas, cv::Size(0, 0), scale / 100);
  // canvas pixel -> unit -> frame: frame = M (canvas - o) / scale.
  cv::Matx23d m = FaceTransform(pose);
  cv::Matx23d to_frame;
  for (int r = 0; r < 2; ++r) {
    to_frame(r, 0) = m(r, 0) / scale;
    to_frame(r, 1) = m(r, 1) / scale;
    to_frame(r, 2) = m(r, 2) - (m(r, 0) + m(r, 1)) * o / scale;
  }
  cv::warpAffine(canvas, frame, to_frame, frame.size(), cv::INTER_LINEAR, cv::BORDER_TRANSPARENT);
  return FaceLandmarksFor(pose, open);
}

}  // namespace mome::synth
