"""Data preparation: corpus readers, text normalisation, Kaldi-style data dirs, replay samples.

Readers (:mod:`lamer.data.commonvoice`, :mod:`lamer.data.fleurs`) turn a corpus download into
:class:`lamer.data.source.SourceUtterance` records; :mod:`lamer.data.prepare` decodes their audio
to 16 kHz mono files and writes Kaldi-style dirs (:mod:`lamer.data.datadir_io`);
:mod:`lamer.data.selection` draws subsets and replay samples; :mod:`lamer.data.validate` checks
a data dir.
"""
