"""A deterministic synthetic universe of companies, shared by the sample data and the EQC sandbox.

The same seed gives the same companies (ids, official names, former names, credit codes), so the
sandbox registry covers the sample data's customers: some exactly, some only by a former name or
under a legal-form variant of their name, and some not at all.  As Chinese naming rules require,
no two companies (nor any former name) share a name stem (region + trade name + industry): two
names that differ only in their legal form are the same company.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

REGIONS = (
    "北京", "上海", "深圳市", "广州市", "浙江", "江苏", "杭州", "南京", "宁波", "天津", "重庆", "成都",
    "武汉", "西安", "长沙", "厦门", "青岛", "苏州", "合肥", "福建", "山东", "湖南", "云南", "广东",
)  # fmt: skip
CORES = (
    "华信", "恒通", "中远", "安达", "宏远", "金桥", "东方", "长城", "新华", "盛世", "瑞丰", "博远",
    "天成", "海川", "鼎盛", "国泰", "明德", "百川", "嘉禾", "联创", "汇丰", "永安", "光明", "华润",
    "燃气", "港务", "交投", "城建", "电力", "水务", "TCL", "ABC", "IBM", "3M", "中科", "远洋",
)  # fmt: skip
INDUSTRIES = (
    "科技", "实业", "投资", "建设", "物流", "能源", "医药", "电子", "化工", "食品", "机械", "传媒",
    "置业", "环保", "材料", "通信", "金融服务", "港口", "航运", "纺织",
)  # fmt: skip
FORMS = ("有限公司", "股份有限公司", "集团有限公司", "有限责任公司", "（集团）有限公司")
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@dataclass
class Company:
    company_id: str
    name: str
    former_names: list[str] = field(default_factory=list)
    credit_code: str | None = None
    # How the registry knows it: "exact", "former" (only under a former name), "variant" (under a
    # legal-form variant of its name), "absent".
    registry_presence: str = "exact"
    plan_codes: list[str] = field(default_factory=list)


def build_companies(count: int, seed: int = 42) -> list[Company]:
    rng = random.Random(f"companies:{seed}")
    stems: set[str] = set()  # region + trade name + industry of every name and former name so far

    def fresh_stem(*cores: str) -> str | None:
        stem = rng.choice(REGIONS) + "".join(cores) + rng.choice(INDUSTRIES)
        return None if stem in stems else stem

    companies: list[Company] = []
    while len(companies) < count:
        stem = fresh_stem(rng.choice(CORES)) or fresh_stem(rng.choice(CORES), rng.choice(CORES))
        if stem is None:
            continue
        stems.add(stem)
        name = stem + rng.choice(FORMS)
        company_id = str(rng.randint(100_000_000, 9_999_999_999))
        credit = "91" + "".join(rng.choice(CREDIT_ALPHABET) for _ in range(16)) if rng.random() < 0.9 else None
        formers = []
        if rng.random() < 0.25:
            formers.append(rng.choice(REGIONS) + rng.choice(CORES) + rng.choice(INDUSTRIES) + "有限公司")
        presence = rng.choices(["exact", "former", "variant", "absent"], weights=[70, 10, 10, 10])[0]
        if presence == "former" and not formers:
            formers.append(rng.choice(REGIONS) + rng.choice(CORES) + rng.choice(INDUSTRIES) + "有限公司")
        formers = [f for f in formers if f.removesuffix("有限公司") not in stems]  # a stem is one company's
        stems.update(f.removesuffix("有限公司") for f in formers)
        if presence == "former" and not formers:
            presence = "exact"
        companies.append(Company(company_id, name, formers, credit, presence))
    for index, company in enumerate(companies):
        company.plan_codes = [f"P{index:05d}{suffix}" for suffix in "ABC"[: rng.choice([1, 1, 1, 2, 3])]]
    return companies


def name_stem(name: str) -> str:
    """A generated name without its legal form (FORMS)."""
    for form in sorted(FORMS, key=len, reverse=True):
        if name.endswith(form):
            return name[: -len(form)]
    return name
