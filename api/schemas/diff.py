"""Two versions of a process side by side (GET /definitions/{id}/diff)."""

from __future__ import annotations

from pydantic import BaseModel, Field

import engine


class VersionRefOut(BaseModel):
    id: str = Field(examples=["rapid_review:3"])
    key: str = Field(examples=["rapid_review"])
    version: int | None = Field(description="null: a diagram file not deployed yet", examples=[3])

    @classmethod
    def of(cls, v: engine.VersionRef) -> VersionRefOut:
        return cls(id=v.id, key=v.key, version=v.version)


class ItemOut(BaseModel):
    """An activity, flow, form, timer or topic, with the details that were compared."""

    id: str = Field(description="element id (activities, flows, timers), form key or topic",
                    examples=["confirm_decision"])
    type: str = Field(description="BPMN element type; `form`, `timer` or `topic` for those sections",
                      examples=["userTask"])
    name: str | None = Field(examples=["Decide: LCSPR or learning dissemination"])
    details: dict[str, str | None] = Field(description=(
        "what is compared: candidate groups, form, topic, condition, timer expression, a form's fields …"),
        examples=[{"candidate groups": "case-review-group", "form": "confirm_review_decision"}])

    @classmethod
    def of(cls, item: engine.Item) -> ItemOut:
        return cls(id=item.id, type=item.type, name=item.name, details=dict(item.details))


class ChangeOut(BaseModel):
    field: str = Field(examples=["candidate groups"])
    before: str | None = Field(examples=["case-review-group"])
    after: str | None = Field(examples=["case-review-group, business-unit"])


class ChangedItemOut(BaseModel):
    id: str
    type: str
    name: str | None
    changes: list[ChangeOut]

    @classmethod
    def of(cls, item: engine.ChangedItem) -> ChangedItemOut:
        return cls(id=item.id, type=item.type, name=item.name,
                   changes=[ChangeOut(field=c.field, before=c.before, after=c.after) for c in item.changes])


class SectionOut(BaseModel):
    added: list[ItemOut] = Field(description="in this version, not in the other")
    removed: list[ItemOut] = Field(description="in the other version, not in this one")
    changed: list[ChangedItemOut] = Field(description="in both, with each detail that differs")

    @classmethod
    def of(cls, s: engine.Section) -> SectionOut:
        return cls(added=[ItemOut.of(i) for i in s.added], removed=[ItemOut.of(i) for i in s.removed],
                   changed=[ChangedItemOut.of(i) for i in s.changed])


class DefinitionDiffOut(BaseModel):
    """What changed from `against` (the base) to `definition`. Elements are matched by id: one whose id
    changed is listed as removed and added."""

    definition: VersionRefOut = Field(description="the version asked about")
    against: VersionRefOut = Field(description="the version it is compared with (the base)")
    identical: bool = Field(description="true when no activity, flow, form, timer or topic differs")
    activities: SectionOut = Field(description="tasks, events, gateways, sub-processes and call activities")
    flows: SectionOut = Field(description="sequence flows: where they go, and their conditions")
    forms: SectionOut = Field(description="the JSON Schema forms the user tasks name: fields and required ones")
    timers: SectionOut = Field(description="timer events and their expressions")
    topics: SectionOut = Field(description="the external-task topics the service tasks use (what workers serve)")

    @classmethod
    def of(cls, d: engine.DefinitionDiff) -> DefinitionDiffOut:
        return cls(definition=VersionRefOut.of(d.target), against=VersionRefOut.of(d.base), identical=d.identical,
                   activities=SectionOut.of(d.activities), flows=SectionOut.of(d.flows),
                   forms=SectionOut.of(d.forms), timers=SectionOut.of(d.timers), topics=SectionOut.of(d.topics))
