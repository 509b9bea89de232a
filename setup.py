"""lamer: continual multilingual expansion of SSL speech models with Layer-Aware MixturE of LoRA experts."""
from setuptools import find_packages, setup

setup(
    name="lamer",
    version="0.1.0",
    description="Layer-aware mixtures of LoRA experts for continual multilingual SSL speech models",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["lamer", "lamer.*"]),
    package_data={"lamer": ["py.typed"]},
    install_requires=[
        "torch==2.13.0",
        "numpy",
        "PyYAML>=6",
        "safetensors>=0.4",
        "soundfile>=0.12",
        "kaldiio>=2.18",
        "sentencepiece>=0.2",
        "tqdm",
    ],
    extras_require={
        "espnet": ["espnet==202511", "espnet-s3prl==2026.5.14"],
        "demo": ["espeakng-loader", "wordfreq"],
        "test": ["pytest"],
    },
)
