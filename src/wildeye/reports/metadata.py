"""Project metadata for the Camtrap DP package (datapackage.json) and the report's privacy settings.

Read from a project YAML (`wildeye report OUT --project project.yaml`, example in configs/project.yaml) and/or
`wildeye report` flags; flags win. Keys are snake_case like every wildeye config; they map to the Camtrap DP 1.0.2
package properties (camtrap-dp-profile.json): title, description, keywords, bibliographicCitation, contributors
(title, email, path, organization, role in contact / principalInvestigator / rightsHolder / publisher /
contributor), licenses (Camtrap DP: "at least a license for the content of the package and one for the media
files", scopes `data` and `media`), project (id, title, acronym, description, path, samplingDesign, captureMethod,
individualAnimals; observationLevel comes from the data) and coordinatePrecision.

`gbif_gaps` lists what GBIF needs before it publishes a package (a title, a description, a contact, a data licence
GBIF accepts: CC0 1.0, CC BY 4.0 or CC BY-NC 4.0) and Camtrap DP requires once licences are given (a media
licence too): the report writes a note per gap, and `--strict` turns the gaps into an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wildeye.config import PrivacyConfig, read_yaml, validation_config_error
from wildeye.errors import ConfigError

Role = Literal["contact", "principalInvestigator", "rightsHolder", "publisher", "contributor"]
SamplingDesign = Literal["simpleRandom", "systematicRandom", "clusteredRandom", "experimental", "targeted",
                         "opportunistic"]
GBIF_LICENSES = {"CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
                 "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
                 "CC-BY-NC-4.0": "https://creativecommons.org/licenses/by-nc/4.0/"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Contributor(_Strict):
    """A person or organisation (Data Package contributor; Camtrap DP restricts `role`)."""

    title: str = Field(min_length=1, description="full name, or the organisation's name")
    role: Role = Field("contributor", description="contact | principalInvestigator | rightsHolder | publisher | "
                                                  "contributor")
    email: Optional[str] = None
    path: Optional[str] = Field(None, description="a web page or ORCID, e.g. https://orcid.org/0000-0002-...")
    organization: Optional[str] = None
    first_name: Optional[str] = None
    last_name: Optional[str] = None

    def descriptor(self) -> dict:
        out = {"title": self.title, "email": self.email, "path": self.path, "role": self.role,
               "organization": self.organization, "firstName": self.first_name, "lastName": self.last_name}
        return {k: v for k, v in out.items() if v}


class License(_Strict):
    """An Open Definition / SPDX licence id (CC-BY-4.0), a URL, or both."""

    name: Optional[str] = None
    path: Optional[str] = None
    title: Optional[str] = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return {"path": text} if "://" in text else {"name": text}
        return value

    @model_validator(mode="after")
    def _named(self) -> "License":
        if not self.name and not self.path:
            raise ValueError("give the licence's id (e.g. CC-BY-4.0) or its URL")
        return self

    def descriptor(self, scope: str) -> dict:
        path = self.path or GBIF_LICENSES.get(self.name or "")
        return {k: v for k, v in {"name": self.name, "path": path, "title": self.title, "scope": scope}.items() if v}


class Licenses(_Strict):
    data: Optional[License] = Field(None, description="licence of the data (the tables): GBIF takes CC0-1.0, "
                                                      "CC-BY-4.0 or CC-BY-NC-4.0")
    media: Optional[License] = Field(None, description="licence of the images the package points to")


class Project(_Strict):
    """Camtrap DP package.project: the camera-trap project or study that originated the package."""

    id: Optional[str] = None
    title: Optional[str] = Field(None, description="null: the package title")
    acronym: Optional[str] = None
    description: Optional[str] = None
    path: Optional[str] = Field(None, description="project website")
    sampling_design: SamplingDesign = Field("opportunistic", description=(
        "simpleRandom | systematicRandom | clusteredRandom | experimental | targeted | opportunistic "
        "(Wearn & Glover-Kapfer 2017)"))
    capture_method: list[Literal["activityDetection", "timeLapse"]] = Field(
        default_factory=lambda: ["activityDetection"], min_length=1)
    individual_animals: bool = Field(False, description="true if marked or recognisable individuals are recorded")


class ProjectMetadata(_Strict):
    """Everything `wildeye report` needs to know about the project besides the journal."""

    title: Optional[str] = Field(None, description="package title; null: 'Camera-trap sightings from <card>'")
    description: Optional[str] = None
    keywords: list[str] = Field(default_factory=list)
    bibliographic_citation: Optional[str] = None
    contributors: list[Contributor] = Field(default_factory=list)
    licenses: Licenses = Field(default_factory=Licenses)
    project: Project = Field(default_factory=Project)
    coordinate_precision: Optional[float] = Field(None, gt=0, description=(
        "least precise coordinate precision of the deployments in degrees (e.g. 0.001); rounding for sensitive "
        "species sets it"))
    media_base_url: Optional[str] = Field(None, description=(
        "where the card's files are published: filePath = URL + path, filePublic true"))
    scientific_names: dict[str, str] = Field(default_factory=dict, description=(
        "latin names for labels that carry none (a model without taxonomy): {'snow leopard': 'Panthera uncia'}"))
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)

    @field_validator("media_base_url")
    @classmethod
    def _url(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        value = value.strip()
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if not scheme.isalpha() or ".." in value:
            raise ValueError("give an absolute URL such as https://example.org/cards/2024-05 (no '..')")
        return value.rstrip("/")

    @field_validator("scientific_names")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for name, latin in value.items():
            latin = " ".join(str(latin).split())
            if not latin or not latin[0].isupper():
                raise ValueError(f"{name!r}: give the latin name with a capital, e.g. 'Panthera uncia'")
            out[" ".join(str(name).split()).lower()] = latin
        return out

    def gbif_gaps(self) -> list[str]:
        """What to add before GBIF takes the package (see the module docstring)."""
        gaps = []
        if not self.title:
            gaps.append("title")
        if not self.description:
            gaps.append("description")
        if not any(c.role == "contact" for c in self.contributors):
            gaps.append("a contributor with role: contact")
        if self.licenses.data is None:
            gaps.append("licenses.data (CC0-1.0, CC-BY-4.0 or CC-BY-NC-4.0)")
        elif self.licenses.data.name and self.licenses.data.name not in GBIF_LICENSES:
            gaps.append(f"licenses.data: GBIF accepts CC0-1.0, CC-BY-4.0 or CC-BY-NC-4.0, not "
                        f"{self.licenses.data.name}")
        if self.licenses.media is None:
            gaps.append("licenses.media")
        return gaps


def load_project(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> ProjectMetadata:
    """Read a project YAML (defaults when None) and apply dotted overrides from flags ('privacy.exclude_humans').

    Raises ConfigError with one line naming the file, the line and the key."""
    data: dict[str, Any] = {}
    root, source = None, "defaults"
    if path is not None:
        source = str(path)
        data, root = read_yaml(Path(path))
    for key, value in (overrides or {}).items():
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[parts[-1]] = value
    try:
        return ProjectMetadata.model_validate(data)
    except ValidationError as exc:
        raise validation_config_error(exc, source, root, ProjectMetadata, set(overrides or ())) from None


def parse_contact(text: str) -> Contributor:
    """'Asha Gurung <asha@example.org>' or 'Asha Gurung' as the package's contact."""
    text = text.strip()
    email = None
    if text.endswith(">") and "<" in text:
        text, email = text[:-1].split("<", 1)
        text, email = text.strip(), email.strip()
    if not text:
        raise ConfigError("--contact has no name", "write it as 'Name <email>'")
    return Contributor(title=text, email=email or None, role="contact")
