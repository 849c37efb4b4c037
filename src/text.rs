//! Text log formats. (stub; filled by the text-format work)
