"""The vocabulary of the demo generator: Hunan places, danwei, names, staff, services, comments."""

from __future__ import annotations

# city -> (code prefix, ID-number prefix, {district: (code, ID-number suffix)})
CITIES: dict[str, tuple[str, str, dict[str, tuple[str, str]]]] = {
    "Changsha": ("CS", "4301", {"Yuelu": ("YL", "04"), "Furong": ("FR", "02"), "Tianxin": ("TX", "03"),
                                "Kaifu": ("KF", "05"), "Yuhua": ("YH", "11")}),
    "Zhuzhou": ("ZZ", "4302", {"Hetang": ("HT", "02"), "Lusong": ("LS", "03"), "Shifeng": ("SF", "04"),
                               "Tianyuan": ("TY", "11")}),
    "Changde": ("CD", "4307", {"Wuling": ("WL", "02"), "Dingcheng": ("DC", "03")}),
}
CITY_CYCLE = ("Changsha", "Zhuzhou", "Changde", "Changsha", "Zhuzhou", "Changsha", "Changde", "Changsha", "Zhuzhou",
              "Changsha")  # 5 : 3 : 2, every city from the third community on
STREETS = (
    "望月湖", "桃花岭", "麓山", "枫林", "东塘", "五一", "红旗", "新河", "月湖", "洞井", "荷花", "建设", "团结",
    "胜利", "和平", "光明", "幸福",
    "东风", "井湾", "湘江", "白沙", "清水塘", "金盆岭", "左家塘", "砂子塘", "曙光", "车站", "建宁", "桂花", "红港",
    "滨江", "丹霞", "永安", "常青",
    "朝阳", "城东", "城西",
)
TOWNS = {"Dingcheng": ("斗姆湖镇", "石公桥镇", "镇德桥镇", "谢家铺镇", "灌溪镇"), "Wuling": ("河洑镇", "芦荻山乡")}
DANWEI = [  # (code, name, city, sector)
    ("CS-JC01", "长沙机床厂", "Changsha", "machinery"), ("CS-FZ02", "长沙纺织厂", "Changsha", "textile"),
    ("CS-YC03", "长沙卷烟厂", "Changsha", "tobacco"), ("CS-TL04", "长沙铁路工务段", "Changsha", "railway"),
    ("CS-DJ05", "长沙电机厂", "Changsha", "machinery"), ("ZZ-JC01", "株洲电力机车厂", "Zhuzhou", "railway"),
    ("ZZ-YL02", "株洲冶炼厂", "Zhuzhou", "smelting"), ("ZZ-DF03", "湘江氮肥厂", "Zhuzhou", "fertilizer"),
    ("ZZ-HJ04", "株洲硬质合金厂", "Zhuzhou", "machinery"), ("ZZ-FZ05", "株洲苎麻纺织厂", "Zhuzhou", "textile"),
    ("CD-YC01", "常德卷烟厂", "Changde", "tobacco"), ("CD-FJ02", "常德纺织机械厂", "Changde", "machinery"),
    ("CD-HF03", "常德化肥厂", "Changde", "fertilizer"), ("CD-MF04", "常德棉纺厂", "Changde", "textile"),
]
SECTOR_PAY = {"tobacco": 1.3, "railway": 1.2, "smelting": 1.05, "machinery": 1.0, "fertilizer": 0.95, "textile": 0.85}
SURNAMES = (
    "刘", "李", "王", "陈", "张", "杨", "周", "彭", "谭", "胡", "曾", "邓", "唐", "罗", "黄", "贺", "龙", "易", "肖",
    "廖", "蒋",
    "朱", "吴", "何", "欧阳", "文", "袁", "邹", "颜", "向", "汤", "雷", "段", "熊", "钟",
)
GIVEN = {
    "male": (
        "建国", "国强", "志明", "德华", "卫东", "建华", "春生", "国庆", "振华", "光明", "新民", "跃进", "永福",
        "长富", "爱国", "建军", "明",
        "伟", "勇", "军", "平", "华",
    ),
    "female": (
        "桂英", "秀英", "淑珍", "玉兰", "秀兰", "红梅", "凤英", "桂兰", "春兰", "冬梅", "美华", "素珍", "玉梅",
        "金凤", "淑芬", "丽", "萍",
        "芳", "英", "霞",
    ),
    "staff": (
        "婷", "静", "丽娟", "晓燕", "佳怡", "磊", "强", "伟", "俊", "浩", "思远", "子涵", "雨欣", "志强", "海燕",
        "梦瑶", "丹", "超", "杰",
        "洁", "倩",
    ),
}
# role -> (mean tenure in days, qualified social worker share, longest gap before a replacement joins)
ROLES = {"full_time": (1300, 0.3, 60), "part_time": (700, 0.1, 90), "volunteer": (550, 0.0, 120)}
LEAVE_REASONS = ("higher pay elsewhere", "workload", "moved away", "contract ended", "further study", "retired")
COURSES = ("social work practice", "elderly care basics", "pension policy update", "first aid", "information platform")
# service type -> (weight under 80, weight at 80+, shortest and longest duration in minutes)
SERVICES = {"home_visit": (22, 40, 20, 90), "health_check": (20, 22, 30, 120), "cultural_activity": (22, 8, 60, 180),
            "policy_consultation": (18, 8, 15, 60), "certification_assistance": (10, 12, 15, 45),
            "hardship_relief": (5, 6, 30, 120), "emergency_assistance": (3, 4, 30, 180)}
CHANNELS, SCORES = ("in_person", "phone", "app", "survey"), (1, 2, 3, 4, 5)
COMMENTS = {1: "态度差", 2: "来得太晚", 3: "一般", 4: "不错", 5: "服务很好"}
# issue 12: agencies, their standards and courses. area -> agency name
AGENCIES = {"Hunan": "湖南省社会保险服务局", "Changsha": "长沙市社会保险服务中心", "Zhuzhou": "株洲市社会保险服务中心",
            "Changde": "常德市社会保险服务中心"}
# (area, code, indicator, threshold, period, effective_from, revisions [(threshold, effective_from)], retired_from)
Standard = tuple[str, str, str, str, str, str, list[tuple[str, str]], str | None]
STANDARDS: tuple[Standard, ...] = (
    ("Hunan", "HN-S01", "certified_share", "0.95", "year", "2012-01-01", [("0.97", "2019-07-01")], None),
    ("Hunan", "HN-S02", "aged_80_visited_share", "0.5", "quarter", "2014-01-01", [("0.6", "2021-07-01")], None),
    ("Hunan", "HN-S03", "new_transfers_visited_30_days_share", "0.5", "year", "2015-01-01", [], None),
    ("Hunan", "HN-S04", "contact_card_share", "0.9", "year", "2012-01-01", [], None),
    ("Hunan", "HN-S05", "mean_satisfaction", "3.8", "quarter", "2016-01-01", [("4.0", "2022-04-01")], None),
    ("Hunan", "HN-S06", "qualified_social_worker_share", "0.3", "year", "2016-01-01", [("0.5", "2023-07-01")], None),
    ("Changsha", "CS-S01", "retirees_per_full_time_staff", "40", "quarter", "2012-01-01", [("30", "2020-07-01")],
     None),
    ("Changsha", "CS-S02", "training_hours_per_full_time_staff", "24", "year", "2014-01-01", [], None),
    ("Zhuzhou", "ZZ-S01", "training_hours_per_full_time_staff", "16", "year", "2013-01-01", [("32", "2018-07-01")],
     None),
    ("Zhuzhou", "ZZ-S02", "retirees_per_full_time_staff", "50", "year", "2013-01-01", [], None),
    ("Changde", "CD-S01", "retirees_per_full_time_staff", "60", "year", "2012-01-01", [], "2024-01-01"),
    ("Changde", "CD-S02", "mean_satisfaction", "3.5", "month", "2020-01-01", [], None),
)
# (area, code, title, hours, topic)
COURSE_CATALOGUE = (
    ("Hunan", "HN-C01", "养老保险政策解读", 16, "policy"),
    ("Hunan", "HN-C02", "社会工作方法", 40, "social_work_methods"),
    ("Hunan", "HN-C03", "老年照护基础", 24, "elderly_care"),
    ("Hunan", "HN-C04", "社会化管理信息系统操作", 8, "information_system"),
    ("Changsha", "CS-C01", "个案工作实务", 32, "social_work_methods"),
    ("Zhuzhou", "ZZ-C01", "退休人员健康管理", 16, "elderly_care"),
    ("Changde", "CD-C01", "农村退休人员服务政策", 12, "policy"),
)
QUALIFICATIONS = ("assistant_social_worker", "social_worker", "senior_social_worker")
FACILITIES = {"service_station": (40, 200), "activity_room": (60, 400), "elderly_canteen": (80, 300)}
FUNDING_SOURCES = {"city": 0.55, "district": 0.2, "province": 0.1, "lottery_welfare_fund": 0.1, "other": 0.05}
