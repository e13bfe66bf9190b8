from setuptools import find_packages, setup

about = {}
with open("src/streamrecorder/__init__.py") as f:
    exec(f.read(), about)

setup(
    name="streamrecorder",
    version=about["__version__"],
    description="Record online video streams (MP4, HLS) into growing, playable files",
    package_dir={"": "src"},
    packages=find_packages("src"),
    package_data={"streamrecorder.demo": ["sample/*"]},
    python_requires=">=3.8",
    install_requires=["twisted", "requests", "m3u8==6.0.0"],
    extras_require={
        "crypto": ["cryptography"],
        "test": [
            "pytest", "pytest-twisted", "pytest-timeout", "ruff", "vermin", "hypothesis",
            "cryptography", "pycryptodome", "pillow",
        ],
    },
    entry_points={"console_scripts": ["streamrecorder = streamrecorder.cli:main"]},
)
