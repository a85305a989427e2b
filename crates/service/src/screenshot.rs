//! A showcase's screenshot: proven to be a PNG, JPEG or WebP image by decoding it, refused when
//! it would decode into more pixels than allowed (a decompression bomb declares a huge size in
//! a few bytes, so the size is read from the header before anything is decoded), and re-encoded
//! so that nothing but the pixels survives (EXIF, GPS position, comments).

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use pubdata_core::error::FieldError;
use pubdata_core::showcase::{SCREENSHOT_MAX_BYTES, SCREENSHOT_MAX_PIXELS, SCREENSHOT_MAX_SIDE};
use pubdata_core::DomainError;

const FIELD: &str = "screenshot";

/// A screenshot ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clean {
    pub bytes: Vec<u8>,
    pub media_type: &'static str,
    pub extension: &'static str,
    pub width: u32,
    pub height: u32,
}

fn refuse(code: &str) -> DomainError {
    DomainError::Validation(vec![FieldError::new(FIELD, code)
        .with("max_mb", SCREENSHOT_MAX_BYTES / (1024 * 1024))
        .with("max_side", SCREENSHOT_MAX_SIDE)
        .with("max_mp", SCREENSHOT_MAX_PIXELS / 1_000_000)])
}

fn reader(bytes: &[u8]) -> Result<ImageReader<Cursor<&[u8]>>, DomainError> {
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| refuse("screenshot_type"))
}

/// Checks and cleans an uploaded screenshot: `screenshot_too_large` past the byte limit,
/// `screenshot_type` when it is not a decodable PNG, JPEG or WebP (whatever its name says),
/// `screenshot_dimensions` past the size limits.
pub fn clean(bytes: &[u8]) -> Result<Clean, DomainError> {
    if bytes.len() as u64 > SCREENSHOT_MAX_BYTES {
        return Err(refuse("screenshot_too_large"));
    }
    let format = reader(bytes)?.format().ok_or_else(|| refuse("screenshot_type"))?;
    let (media_type, extension) = match format {
        ImageFormat::Png => ("image/png", "png"),
        ImageFormat::Jpeg => ("image/jpeg", "jpg"),
        ImageFormat::WebP => ("image/webp", "webp"),
        _ => return Err(refuse("screenshot_type")),
    };
    // The header alone: nothing is decoded yet.
    let (width, height) = reader(bytes)?
        .into_dimensions()
        .map_err(|_| refuse("screenshot_type"))?;
    if !within_limits(width, height) {
        return Err(refuse("screenshot_dimensions"));
    }
    let mut decoder = reader(bytes)?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(SCREENSHOT_MAX_SIDE);
    limits.max_image_height = Some(SCREENSHOT_MAX_SIDE);
    // Four bytes per pixel at most for the formats accepted, plus room for the decoder's own.
    limits.max_alloc = Some(SCREENSHOT_MAX_PIXELS * 4 + 64 * 1024 * 1024);
    decoder.limits(limits);
    let image = decoder.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => refuse("screenshot_dimensions"),
        _ => refuse("screenshot_type"),
    })?;
    let bytes = encode(&image, format).map_err(|_| refuse("screenshot_type"))?;
    Ok(Clean {
        bytes,
        media_type,
        extension,
        width,
        height,
    })
}

fn within_limits(width: u32, height: u32) -> bool {
    width > 0
        && height > 0
        && width <= SCREENSHOT_MAX_SIDE
        && height <= SCREENSHOT_MAX_SIDE
        && u64::from(width) * u64::from(height) <= SCREENSHOT_MAX_PIXELS
}

/// The pixels alone, in the format they came in (JPEG without alpha, WebP losslessly).
fn encode(image: &DynamicImage, format: ImageFormat) -> image::ImageResult<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => {
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
            DynamicImage::ImageRgb8(image.to_rgb8()).write_with_encoder(encoder)?;
        }
        ImageFormat::WebP => DynamicImage::ImageRgba8(image.to_rgba8()).write_to(&mut out, ImageFormat::WebP)?,
        _ => image.write_to(&mut out, ImageFormat::Png)?,
    }
    Ok(out.into_inner())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid PNG of the given size, every pixel one colour.
    pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(width, height, image::Rgb([10, 120, 200]));
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(img)
            .write_to(&mut out, ImageFormat::Png)
            .unwrap();
        out.into_inner()
    }

    /// A PNG whose header declares `width`×`height` but carries almost no data: what a
    /// decompression bomb looks like before decoding.
    pub(crate) fn declared_png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = png(1, 1);
        // IHDR's width and height sit at bytes 16..24, followed by its CRC over bytes 12..29.
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for b in data {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn code(r: Result<Clean, DomainError>) -> String {
        match r {
            Err(DomainError::Validation(v)) => v[0].code.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_png_is_reencoded_and_keeps_its_pixels() {
        let c = clean(&png(30, 20)).unwrap();
        assert_eq!((c.media_type, c.width, c.height), ("image/png", 30, 20));
        let back = image::load_from_memory(&c.bytes).unwrap().to_rgb8();
        assert_eq!(back.get_pixel(5, 5).0, [10, 120, 200]);
    }

    #[test]
    fn jpeg_metadata_is_stripped() {
        let img = image::RgbImage::from_pixel(16, 16, image::Rgb([200, 30, 30]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
            .encode_image(&img)
            .unwrap();
        // An APP1 Exif segment with a GPS-looking payload right after SOI.
        let payload = b"Exif\0\0GPSLatitude 30.6";
        let mut with_exif = vec![0xff, 0xd8, 0xff, 0xe1];
        with_exif.extend(((payload.len() + 2) as u16).to_be_bytes());
        with_exif.extend(payload);
        with_exif.extend(&jpeg[2..]);
        let c = clean(&with_exif).unwrap();
        assert_eq!(c.media_type, "image/jpeg");
        assert!(!c.bytes.windows(4).any(|w| w == b"Exif"), "EXIF survived");
        assert!(!c.bytes.windows(11).any(|w| w == b"GPSLatitude"));
    }

    #[test]
    fn text_named_png_is_refused() {
        assert_eq!(code(clean(b"just some text, not an image at all")), "screenshot_type");
        // A PNG signature on a truncated body does not decode either.
        assert_eq!(code(clean(&png(4, 4)[..30])), "screenshot_type");
    }

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        let bomb = declared_png(20_000, 20_000);
        assert!(bomb.len() < 100);
        assert_eq!(code(clean(&bomb)), "screenshot_dimensions");
        // Sides within the limit but too many pixels together.
        assert_eq!(code(clean(&declared_png(9_000, 9_000))), "screenshot_dimensions");
    }

    #[test]
    fn too_many_bytes_are_refused_before_anything_else() {
        let big = vec![0u8; SCREENSHOT_MAX_BYTES as usize + 1];
        assert_eq!(code(clean(&big)), "screenshot_too_large");
    }
}
