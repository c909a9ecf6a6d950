// C libraries behind StrataImage (the only target that imports _CImage):
//   TurboJPEG (libjpeg-turbo)  reports errors by return value, no setjmp
//   libpng, simplified API      png_image_*: errors are returned in the png_image
//                               (the classic API needs setjmp, which Swift cannot call)
// Debian: apt-get install libturbojpeg0-dev libpng-dev pkg-config
#ifndef STRATA_CIMAGE_SHIM_H
#define STRATA_CIMAGE_SHIM_H

#include <stddef.h>
#include <string.h>
#include <turbojpeg.h>
#include <png.h>

/// A zeroed png_image with `version` set, as the simplified API requires.
static inline png_image strata_png_image_init(void) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    return image;
}

/// The NUL-terminated message libpng leaves in the image after a warning or error.
static inline const char *strata_png_image_message(const png_image *image) {
    return image->message;
}

/// Whether the last simplified-API call failed (as opposed to only warning).
static inline int strata_png_image_failed(const png_image *image) {
    return PNG_IMAGE_FAILED(*image);
}

#endif
