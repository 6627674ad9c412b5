"""Images as files and bytes: formats, bounded readers and decoders, writers and the own
PNG and PNM codecs, atomic output, and region reads and block writes for images bigger
than memory (:mod:`~flipconv.core.io.bigio`)."""
