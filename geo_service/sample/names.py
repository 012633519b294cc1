"""Name lists for the synthetic parts of the sample jurisdiction (people, water, roads, places)."""

# Common surnames, with rough weights; the Zhuji area has many 陈, 楼, 骆, 宣, 斯, 寿 and 郦.
SURNAMES: tuple[tuple[str, int], ...] = (
    ("陈", 9),
    ("王", 6),
    ("楼", 5),
    ("李", 5),
    ("张", 5),
    ("何", 4),
    ("杨", 4),
    ("赵", 3),
    ("骆", 3),
    ("周", 3),
    ("黄", 3),
    ("吴", 3),
    ("徐", 3),
    ("孙", 2),
    ("朱", 2),
    ("俞", 2),
    ("宣", 2),
    ("斯", 2),
    ("寿", 2),
    ("郦", 2),
    ("金", 2),
    ("蒋", 2),
    ("郭", 2),
    ("胡", 2),
    ("钱", 1),
    ("冯", 1),
    ("丁", 1),
    ("应", 1),
    ("边", 1),
    ("袁", 1),
    ("石", 1),
    ("马", 1),
    ("方", 1),
    ("余", 1),
    ("傅", 1),
    ("沈", 1),
    ("许", 1),
    ("章", 1),
    ("屠", 1),
    ("魏", 1),
)

GIVEN_NAME_CHARS: tuple[str, ...] = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建国文辉力斌鹏宇浩凯晨欣怡佳琪"
    "雨婷颖思晓俊峰林海波春燕梅兰飞金龙云亮东志永荣新宏立成天乐安家嘉子梓轩涵博瑞雪丹"
)

# Mobile number prefixes in use in mainland China (three digits, then eight more).
MOBILE_PREFIXES: tuple[str, ...] = (
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "177",
    "180",
    "181",
    "182",
    "183",
    "184",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "193",
    "195",
    "198",
    "199",
)

CHINESE_DIGITS: tuple[str, ...] = ("零", "一", "二", "三", "四", "五", "六", "七", "八", "九")

POND_PREFIXES: tuple[str, ...] = (
    "前",
    "后",
    "上",
    "下",
    "大",
    "小",
    "新",
    "老",
    "东",
    "西",
    "南",
    "北",
    "长",
    "方",
    "月",
    "荷花",
    "鱼",
    "门前",
    "屋后",
    "井头",
)

RESERVOIR_PREFIXES: tuple[str, ...] = (
    "石门",
    "高湖",
    "五一",
    "红旗",
    "幸福",
    "东坑",
    "西坞",
    "黄檀",
    "大坞",
    "岭下",
    "青山",
    "竹林",
    "白云",
    "龙潭",
    "金鸡",
    "杨梅",
    "横山",
    "坑口",
    "上坞",
    "前山",
)

LAKE_NAMES: tuple[str, ...] = ("月牙湖", "镜湖", "白鹭湖", "翠湖", "南湖", "东湖", "荷花湖", "西湖")

STREAM_NAMES: tuple[str, ...] = (
    "栎溪",
    "孝义溪",
    "大溪",
    "干溪",
    "东溪",
    "石门溪",
    "黄泥溪",
    "青溪",
    "龙溪",
    "桃溪",
)

CANAL_NAMES: tuple[str, ...] = (
    "东干渠",
    "西干渠",
    "新开渠",
    "红旗渠",
    "跃进渠",
    "幸福渠",
    "南渠",
    "北渠",
)

# Rivers for the large (county-wide) sample; geometry is synthetic.
LARGE_RIVER_NAMES: tuple[str, ...] = ("浦阳江", "开化江", "五泄江")

STREET_NAMES: tuple[str, ...] = (
    "解放路",
    "和平路",
    "新街",
    "老街",
    "枫溪路",
    "江滨路",
    "人民路",
    "学勉路",
    "建设路",
    "文化路",
    "桥亭路",
    "永宁路",
    "兴业路",
    "光明路",
    "工业路",
    "胜利路",
)

# Hamlet (自然村) and lane names used in rural addresses.
HAMLET_NAMES: tuple[str, ...] = (
    "上宅",
    "下宅",
    "前村",
    "后村",
    "新屋",
    "老屋",
    "东山",
    "西坞",
    "南岙",
    "北坑",
    "山脚",
    "溪口",
    "桥头",
    "塘边",
    "大院",
    "小坞",
    "岭脚",
    "畈里",
)

HIGHWAY_NAMES: tuple[str, ...] = ("诸永高速", "沪昆高速")

MAIN_ROAD_NAMES: tuple[str, ...] = ("枫桥大道", "枫溪路", "永宁路", "学勉路", "建设路", "兴业路")


def chinese_numeral(n: int) -> str:
    """Write 1..99 as a Chinese numeral: 1 -> 一, 10 -> 十, 12 -> 十二, 35 -> 三十五."""
    if not 1 <= n <= 99:
        raise ValueError(f"chinese_numeral handles 1..99, got {n}")
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else CHINESE_DIGITS[tens] + "十")
    return head + (CHINESE_DIGITS[ones] if ones else "")


def village_short_name(name: str) -> str:
    """Short form of a village name for labels: drop a trailing 居委会, or 委会 after 村."""
    if name.endswith("居委会"):
        return name[: -len("居委会")]
    if name.endswith("村委会"):
        return name[: -len("委会")]
    return name
