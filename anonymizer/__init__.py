"""footage-anonymizer: anonymise recorded footage and keep the privacy notice's promises."""

__version__ = "0.1.0"
